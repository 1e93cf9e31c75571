package kubelet

import (
	"context"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/kinns/kinns/kubelet/internal/imagegc"
)

// runImageGC removes the node's unused images when the image filesystem
// fills up, until ctx ends (see package imagegc). Every node shares one
// disk and one containerd: this kubelet removes only its own namespace's
// images.
func runImageGC(ctx context.Context, cfg Config, client kubernetes.Interface, store imagegc.Store) {
	gc := cfg.ImageGC
	if !gc.Enabled() {
		cfg.Log.Info("image garbage collection is off", "fs", gc.FS, "high", gc.High())
		return
	}
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	events := broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: "kubelet", Host: cfg.NodeName})
	policy := imagegc.Policy{High: int(gc.High()), Low: int(gc.Low()), MinAge: cfg.ImageMinimumGCAge}
	cfg.Log.Info("image garbage collection", "fs", gc.FS, "high", policy.High, "low", policy.Low, "minAge", policy.MinAge, "period", cfg.ImageGCPeriod)
	imagegc.New(imagegc.Config{Policy: policy, Period: cfg.ImageGCPeriod, FS: gc.FS, Node: cfg.NodeName, Log: cfg.Log},
		imagegc.Deps{Store: store, Events: events}).Run(ctx)
}
