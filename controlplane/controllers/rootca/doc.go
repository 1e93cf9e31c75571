// Package rootca publishes the lab's CA certificate as the ConfigMap
// kube-root-ca.crt (key ca.crt) in every namespace, and puts it back when it
// is changed or deleted. Pods read it through the projected volume that the
// API server's ServiceAccount admission adds to them, to trust the API
// server from inside the cluster.
//
// The work is done by upstream's root-ca-cert-publisher
// (k8s.io/kubernetes/pkg/controller/certificates/rootcacertpublisher,
// v1.37.2), imported as a library like the namespace controller: it needs
// only informers, a clientset and the certificate. This package adapts it to
// kinns' controller convention.
//
// # Example
//
//	d := deps.Deps{Client: client, Factory: factory, Recorder: recorder, Log: log}
//	c, err := rootca.New(d, rootca.Options{CA: caPEM})
//	factory.Start(ctx.Done())
//	c.Run(ctx, 1)
package rootca
