// Package persistentvolume binds PersistentVolumeClaims to
// PersistentVolumes and keeps both ends in step: the work of the
// persistent-volume-binder of kube-controller-manager, done by upstream's
// controller (k8s.io/kubernetes/pkg/controller/volume/persistentvolume,
// v1.37.2) imported as a library, with no in-tree volume plugin.
//
// Without plugins it still does everything a cluster with an external
// provisioner needs: it binds a claim to a matching PV (or to the PV
// provisioned for it), waits for the scheduler's
// volume.kubernetes.io/selected-node annotation on a claim whose class
// binds WaitForFirstConsumer, then names the class's provisioner in the
// claim's volume.kubernetes.io/storage-provisioner annotation for an
// external provisioner (kinns' localpath controller) to act on, and marks
// a PV Released once its claim is gone, leaving a dynamically provisioned
// one with reclaim policy Delete to its provisioner.
//
// Protection is the two small upstream controllers beside it
// (pkg/controller/volume/pvcprotection and pvprotection): the API server's
// StorageObjectInUseProtection admission puts the kubernetes.io/pvc-protection
// finalizer on every claim and kubernetes.io/pv-protection on every PV; they
// remove it once no pod uses the claim, and once the PV is bound to nothing,
// so a deleted claim goes only when its last pod has.
//
// Expansion (pkg/controller/volume/expand) is not run: with no in-tree
// plugin it only hands a resized claim to an external resizer (a CSI
// sidecar), and kinns' local-path volumes are plain folders with no size
// to grow.
//
// # Example
//
//	d := deps.Deps{Client: client, Factory: factory, Log: log}
//	c, err := persistentvolume.New(d, persistentvolume.Options{})
//	factory.Start(ctx.Done())
//	c.Run(ctx, 1)
package persistentvolume
