// Package statefulset runs the pods of every StatefulSet: stable names
// (web-0, web-1…), hostnames and subdomains, one PersistentVolumeClaim per
// replica from volumeClaimTemplates, ordered or parallel pod management,
// rolling updates with a partition, and the PVC retention policy.
//
// The work is upstream's StatefulSet controller
// (k8s.io/kubernetes/pkg/controller/statefulset, v1.37.2), imported as a
// library.
//
// # Example
//
//	c, err := statefulset.New(deps.Deps{Client: client, Factory: factory, Log: log}, statefulset.Options{})
//	factory.Start(ctx.Done())
//	c.Run(ctx, statefulset.Workers)
package statefulset
