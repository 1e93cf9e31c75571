// Package apiready waits until the API server a client talks to is ready,
// as kube-controller-manager waits for its API server's health before it
// starts its controllers.
//
// Components call it after they start and before their informers list:
// the harness starts them while the API server is still booting, and a
// reflector whose first list fails backs off for seconds (client-go's 0.8 s
// doubling), which would hold a component back long after the API server
// is ready. Polling /readyz every 200 ms ends within 200 ms of readiness;
// faster would slow the boot it waits for, as each ask runs the readiness
// checks (etcd's too) and a lab has some ten clients asking.
//
//	client, _ := kubernetes.NewForConfig(rc)
//	if err := apiready.Wait(ctx, client.Discovery().RESTClient(), log); err != nil {
//		return err // ctx ended
//	}
package apiready
