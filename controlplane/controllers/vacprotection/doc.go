// Package vacprotection removes the kubernetes.io/vac-protection finalizer
// from a VolumeAttributesClass once no PersistentVolumeClaim or
// PersistentVolume uses it, so that a class being deleted goes once it is
// free, and adds the finalizer to every class that lacks it. (The API
// server's admission adds the finalizer at creation; without this
// controller a deleted class would stay Terminating for good.)
//
// The work is upstream's VolumeAttributesClass protection controller
// (k8s.io/kubernetes/pkg/controller/volume/vacprotection, v1.37.2),
// imported as a library; kube-controller-manager runs it with one worker.
//
// # Example
//
//	c, err := vacprotection.New(deps.Deps{Client: client, Factory: factory, Log: log}, vacprotection.Options{})
//	factory.Start(ctx.Done())
//	c.Run(ctx, vacprotection.Workers)
package vacprotection
