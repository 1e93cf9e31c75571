package replicaset

import (
	"context"
	"errors"
	"log/slog"

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

// burstReplicas caps the pods created or deleted by one sync, so a huge
// scale change proceeds in steps the informer can confirm.
const burstReplicas = 500

// Controller keeps the pods of every ReplicaSet at spec.replicas.
type Controller struct {
	client    kubernetes.Interface
	rsLister  appslisters.ReplicaSetLister
	podLister corelisters.PodLister
	synced    []cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
	exp       *expectations
	rec       events.EventRecorder
	log       *slog.Logger
	clock     clock.Clock
}

// Options tune a Controller; there is nothing to tune yet.
type Options struct{}

// New builds the controller and registers its handlers on the factory's
// ReplicaSet and Pod informers; call it before d.Factory.Start.
func New(d deps.Deps, opts Options) (*Controller, error) {
	d = d.Defaults()
	rsInformer := d.Factory.Apps().V1().ReplicaSets()
	podInformer := d.Factory.Core().V1().Pods()
	c := &Controller{
		client:    d.Client,
		rsLister:  rsInformer.Lister(),
		podLister: podInformer.Lister(),
		synced:    []cache.InformerSynced{rsInformer.Informer().HasSynced, podInformer.Informer().HasSynced},
		queue:     loop.NewQueue("replicaset"),
		exp:       newExpectations(d.Clock),
		rec:       d.Recorder,
		log:       d.Log.With("controller", "replicaset"),
		clock:     d.Clock,
	}
	c.register(rsInformer.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc: c.addRS, UpdateFunc: c.updateRS, DeleteFunc: c.deleteRS,
	})
	c.register(podInformer.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc: c.addPod, UpdateFunc: c.updatePod, DeleteFunc: c.deletePod,
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
