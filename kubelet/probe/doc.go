// Package probe runs a container's liveness, readiness and startup probes:
// Do performs one probe (httpGet, tcpSocket, exec or grpc) within its
// timeoutSeconds, and Worker repeats it every periodSeconds after
// initialDelaySeconds, applying successThreshold and failureThreshold.
//
// Network probes are dialled from the caller's network namespace to the
// pod's address; the kubelet lives in its node's namespace, which routes to
// the pod bridge, so no namespace is ever entered.
//
//	target := probe.Target{PodIP: "10.244.1.5", Container: &c, Exec: execInContainer}
//	w := probe.Worker{
//		Probe:     c.LivenessProbe,
//		Do:        func(ctx context.Context) (probe.Result, string) { return probe.Do(ctx, c.LivenessProbe, target) },
//		StartedAt: startedAt,
//		Report: func(healthy bool, msg string) {
//			if !healthy {
//				restart(msg) // e.g. "HTTP probe failed with statuscode: 500"
//			}
//		},
//		StopOnFailure: true,
//	}
//	go w.Run(ctx)
package probe
