// Package endpoints is kinns' endpoints controller: for every Service with a
// selector it publishes the pods that back it, as discovery.k8s.io/v1
// EndpointSlices (what kube-proxy and kinns' proxy read) and as core/v1
// Endpoints (what older clients read).
//
// A pod backs a Service when the selector matches it, it is bound to a node,
// it has an address of the Service's family and it has not finished. Each
// endpoint carries the pod's node, a reference to the pod and three
// conditions: ready (the pod is Ready and not terminating), serving (the pod
// is Ready, terminating or not) and terminating (its deletion has begun);
// publishNotReadyAddresses makes every such pod ready and serving. Ports are
// the Service's, resolved per pod from targetPort (a number, or the name of
// a container port), so pods that number a named port differently land in
// different slices, as upstream does.
//
// Slices carry kubernetes.io/service-name, endpointslice.kubernetes.io/
// managed-by=endpointslice-controller.k8s.io and an owner reference to the
// Service; their names are derived from the Service, the address family and
// the port set, so repeating a sync on a stale cache cannot create a
// duplicate. Endpoints carry endpoints.kubernetes.io/managed-by=
// endpoint-controller, list ready pods in addresses and the others in
// notReadyAddresses, and leave terminating pods out. Objects without these
// labels are never changed: the API server's `kubernetes` Service keeps its
// own.
//
// DesiredSlices and DesiredEndpoints are the pure decision; the Controller
// reads informer caches, compares and writes the difference.
//
// # Example
//
//	d := deps.Deps{Client: client, Factory: factory, Recorder: recorder, Log: log}
//	c, err := endpoints.New(d, endpoints.Options{Write: endpoints.WriteSlices})
//	factory.Start(ctx.Done())
//	c.Run(ctx, 3) // until ctx is done
package endpoints
