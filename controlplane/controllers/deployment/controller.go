package deployment

import (
	"context"
	"errors"
	"log/slog"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	"github.com/kinns/kinns/controlplane/controllers/internal/loop"
)

// controllerKind is what ReplicaSets name in their controller reference.
var controllerKind = appsv1.SchemeGroupVersion.WithKind("Deployment")

// Controller rolls Deployments out through ReplicaSets.
type Controller struct {
	client    kubernetes.Interface
	dLister   appslisters.DeploymentLister
	rsLister  appslisters.ReplicaSetLister
	podLister corelisters.PodLister
	synced    []cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
	rec       events.EventRecorder
	log       *slog.Logger
	clock     clock.Clock
}

// Options tune a Controller; there is nothing to tune yet.
type Options struct{}

// New builds the controller and registers its handlers on the factory's
// Deployment, ReplicaSet and Pod informers; call it before d.Factory.Start.
func New(d deps.Deps, opts Options) (*Controller, error) {
	d = d.Defaults()
	dInformer := d.Factory.Apps().V1().Deployments()
	rsInformer := d.Factory.Apps().V1().ReplicaSets()
	podInformer := d.Factory.Core().V1().Pods()
	c := &Controller{
		client:    d.Client,
		dLister:   dInformer.Lister(),
		rsLister:  rsInformer.Lister(),
		podLister: podInformer.Lister(),
		synced: []cache.InformerSynced{
			dInformer.Informer().HasSynced, rsInformer.Informer().HasSynced, podInformer.Informer().HasSynced,
		},
		queue: loop.NewQueue("deployment"),
		rec:   d.Recorder,
		log:   d.Log.With("controller", "deployment"),
		clock: d.Clock,
	}
	c.register(dInformer.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc: c.addDeployment, UpdateFunc: c.updateDeployment, DeleteFunc: c.deleteDeployment,
	})
	c.register(rsInformer.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc: c.addRS, UpdateFunc: c.updateRS, DeleteFunc: c.deleteRS,
	})
	c.register(podInformer.Informer(), cache.ResourceEventHandlerFuncs{
		DeleteFunc: c.deletePod,
	})
	return c, nil
}

func (c *Controller) register(inf cache.SharedIndexInformer, h cache.ResourceEventHandler) {
	if _, err := inf.AddEventHandler(h); err != nil {
		c.log.Error("register event handler", "err", err)
	}
}

// Run waits for the caches, then runs workers until ctx is done, and returns
// once every worker has stopped. Failed keys are retried with backoff.
func (c *Controller) Run(ctx context.Context, workers int) {
	c.log.Info("starting", "workers", workers)
	defer c.log.Info("stopped")
	loop.Run(ctx, c.log, c.queue, workers, c.syncKey, c.synced...)
}

// syncKey is sync for the work loop: a namespace being deleted is no reason to
// retry, its namespace controller removes what is left.
func (c *Controller) syncKey(ctx context.Context, key string) error {
	if err := c.sync(ctx, key); err != nil && !errors.Is(err, errNamespaceTerminating) {
		return err
	}
	return nil
}
