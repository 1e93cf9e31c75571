// Package records reads and writes the kubelet's records of the pod
// network namespaces it makes. Before the kubelet makes a pod's namespace
// it writes <StateDir>/pods/<uid>/sandbox.json naming the pod and the
// namespace; the record goes when the pod is cleaned up, with the pod's
// folder. So a kubelet that restarts after a pod's deletion knows what to
// remove, and a lab's teardown (after the kubelet was killed) or
// `lab exec pod/…` finds a pod's namespace without knowing how the kubelet
// names them. It imports nothing of kinns: the harness reads the records
// without linking the kubelet.
//
//	for _, name := range records.Netns(stateDir) { // names under /run/netns
//		netns.Delete(name)
//	}
//	name, ok := records.NetnsOf(stateDir, pod.UID)
package records
