// Package localpath is kinns' dynamic provisioner for the default
// StorageClass `standard` (provisioner kinns.io/local-path): a volume is a
// folder on the node the scheduler picked, as with kind's and k3s'
// local-path-provisioner.
//
// For a Pending claim that the persistent volume binder handed to this
// provisioner (annotation volume.kubernetes.io/storage-provisioner) and
// that the scheduler gave a node (volume.kubernetes.io/selected-node, set
// because the class binds WaitForFirstConsumer), it makes the folder
// <Root>/<node>/local-path/pvc-<claim UID> (mode 0777, so a pod of any user
// may write) and creates the PersistentVolume pvc-<claim UID>: a hostPath
// volume at that folder, node affinity kubernetes.io/hostname In [node],
// the class's reclaim policy, the claim's request as capacity, its access
// modes, and a claimRef to it, which the binder then completes. When a PV
// it provisioned is Released and its reclaim policy is Delete, it removes
// the folder and then the PV.
//
// It lives in the controller manager rather than in a pod, as kind's does,
// because every node of a lab is a network namespace on one host: the
// nodes' folders are all on the host's filesystem, which the controller
// manager reaches directly, while a pod would need a hostPath mount of the
// lab's state and a helper pod per node to make and remove folders, for
// nothing the lab needs. Like kube-controller-manager's in-tree
// provisioners, it acts as the persistent-volume-binder ServiceAccount.
//
// It refuses (a ProvisioningFailed event, the claim left Pending) what a
// folder on one node cannot be: ReadWriteMany or ReadOnlyMany access, block
// volume mode, a claim selector, and a class without WaitForFirstConsumer
// binding (no node to put the folder on).
//
// # Example
//
//	d := deps.Deps{Client: client, Factory: factory, Recorder: recorder, Log: log}
//	c, err := localpath.New(d, localpath.Options{Root: "/var/lib/kinns/labs/demo/nodes"})
//	factory.Start(ctx.Done())
//	c.Run(ctx, 2)
package localpath
