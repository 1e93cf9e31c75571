// Package specs holds kinns' end-to-end Ginkgo suites. Every spec boots real labs
// (namespaces, veths, containerd, and later etcd, the API server and kubelets) and
// uses no mocks. Specs carry typed labels, one per concern, so that
//
//	make e2e LABELS=topology
//	make e2e FOCUS='reaches every other'
//
// run just what a developer is working on. They need root.
package specs
