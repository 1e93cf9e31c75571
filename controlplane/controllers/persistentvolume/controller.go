package persistentvolume

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-logr/logr"
	coreinformers "k8s.io/client-go/informers/core/v1"
	storageinformers "k8s.io/client-go/informers/storage/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	upstream "k8s.io/kubernetes/pkg/controller/volume/persistentvolume"
	"k8s.io/kubernetes/pkg/controller/volume/pvcprotection"
	"k8s.io/kubernetes/pkg/controller/volume/pvprotection"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
)

// Options tune a Binder.
type Options struct {
	// SyncPeriod is how often every claim and volume is examined again
	// (default 15 s, kube-controller-manager's --pvclaimbinder-sync-period).
	SyncPeriod time.Duration
}

// Binder is upstream's PersistentVolume controller in kinns' convention.
type Binder struct {
	client  kubernetes.Interface
	log     *slog.Logger
	opts    Options
	volumes coreinformers.PersistentVolumeInformer
	claims  coreinformers.PersistentVolumeClaimInformer
	classes storageinformers.StorageClassInformer
	pods    coreinformers.PodInformer
	nodes   coreinformers.NodeInformer
}

// New registers the informers the binder reads in d.Factory; upstream's
// controller is built in Run, which has the context it wants.
func New(d deps.Deps, opts Options) (*Binder, error) {
	d = d.Defaults()
	if opts.SyncPeriod <= 0 {
		opts.SyncPeriod = 15 * time.Second
	}
	f := d.Factory
	b := &Binder{client: d.Client, log: d.Log, opts: opts,
		volumes: f.Core().V1().PersistentVolumes(), claims: f.Core().V1().PersistentVolumeClaims(),
		classes: f.Storage().V1().StorageClasses(), pods: f.Core().V1().Pods(), nodes: f.Core().V1().Nodes()}
	for _, inf := range []interface {
		Informer() cache.SharedIndexInformer
	}{b.volumes, b.claims, b.classes, b.pods, b.nodes} {
		inf.Informer() // registered now, so the factory starts it
	}
	return b, nil
}

// Run binds claims until ctx is done. Upstream's controller runs one
// worker for claims and one for volumes, whatever workers says.
func (b *Binder) Run(ctx context.Context, _ int) {
	ctx = klog.NewContext(ctx, logr.FromSlogHandler(b.log.Handler()))
	c, err := upstream.NewController(ctx, upstream.ControllerParameters{
		KubeClient: b.client, SyncPeriod: b.opts.SyncPeriod,
		VolumeInformer: b.volumes, ClaimInformer: b.claims, ClassInformer: b.classes,
		PodInformer: b.pods, NodeInformer: b.nodes, EnableDynamicProvisioning: true,
	})
	if err != nil {
		b.log.Error("create persistent volume controller", "err", err)
		<-ctx.Done()
		return
	}
	c.Run(ctx)
}

// ClaimProtection removes the kubernetes.io/pvc-protection finalizer of
// a deleted claim once no pod uses it (upstream's pvcprotection).
type ClaimProtection struct {
	log *slog.Logger
	c   *pvcprotection.Controller
}

// NewClaimProtection registers claim and pod informers in d.Factory.
func NewClaimProtection(d deps.Deps) (*ClaimProtection, error) {
	d = d.Defaults()
	f := d.Factory
	c, err := pvcprotection.NewPVCProtectionController(logr.FromSlogHandler(d.Log.Handler()),
		f.Core().V1().PersistentVolumeClaims(), f.Core().V1().Pods(), d.Client)
	if err != nil {
		return nil, fmt.Errorf("pvc protection: %w", err)
	}
	return &ClaimProtection{log: d.Log, c: c}, nil
}

// Run runs it with workers goroutines until ctx is done.
func (p *ClaimProtection) Run(ctx context.Context, workers int) {
	p.c.Run(klog.NewContext(ctx, logr.FromSlogHandler(p.log.Handler())), workers)
}

// VolumeProtection removes the kubernetes.io/pv-protection finalizer of a
// deleted PV once it is bound to no claim (upstream's pvprotection).
type VolumeProtection struct {
	log *slog.Logger
	c   *pvprotection.Controller
}

// NewVolumeProtection registers a PV informer in d.Factory.
func NewVolumeProtection(d deps.Deps) (*VolumeProtection, error) {
	d = d.Defaults()
	c, err := pvprotection.NewPVProtectionController(logr.FromSlogHandler(d.Log.Handler()),
		d.Factory.Core().V1().PersistentVolumes(), d.Client)
	if err != nil {
		return nil, fmt.Errorf("pv protection: %w", err)
	}
	return &VolumeProtection{log: d.Log, c: c}, nil
}

// Run runs it with workers goroutines until ctx is done.
func (p *VolumeProtection) Run(ctx context.Context, workers int) {
	p.c.Run(klog.NewContext(ctx, logr.FromSlogHandler(p.log.Handler())), workers)
}
