package deployment

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
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

// New builds the controller and registers its handlers on the factory's
// Deployment, ReplicaSet and Pod informers; call it before factory.Start.
// rec and log may be nil.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, rec events.EventRecorder, log *slog.Logger) *Controller {
	return newController(client, factory, rec, log, clock.RealClock{})
}

func newController(client kubernetes.Interface, factory informers.SharedInformerFactory, rec events.EventRecorder, log *slog.Logger, clk clock.Clock) *Controller {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if rec == nil {
		rec = &events.FakeRecorder{} // nil channel: discards
	}
	dInformer := factory.Apps().V1().Deployments()
	rsInformer := factory.Apps().V1().ReplicaSets()
	podInformer := factory.Core().V1().Pods()
	c := &Controller{
		client:    client,
		dLister:   dInformer.Lister(),
		rsLister:  rsInformer.Lister(),
		podLister: podInformer.Lister(),
		synced: []cache.InformerSynced{
			dInformer.Informer().HasSynced, rsInformer.Informer().HasSynced, podInformer.Informer().HasSynced,
		},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(rateLimiter(),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "deployment"}),
		rec:   rec,
		log:   log.With("controller", "deployment"),
		clock: clk,
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
	return c
}

// rateLimiter retries a failing key with exponential backoff capped at a
// minute, under an overall budget.
func rateLimiter() workqueue.TypedRateLimiter[string] {
	return workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](5*time.Millisecond, time.Minute),
		&workqueue.TypedBucketRateLimiter[string]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
	)
}

func (c *Controller) register(inf cache.SharedIndexInformer, h cache.ResourceEventHandler) {
	if _, err := inf.AddEventHandler(h); err != nil {
		c.log.Error("register event handler", "err", err)
	}
}

// Run waits for the caches, then runs workers until ctx is done, and
// returns once every worker has stopped.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer c.queue.ShutDown()
	c.log.Info("starting", "workers", workers)
	defer c.log.Info("stopped")
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return
	}
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() { wait.UntilWithContext(ctx, c.work, time.Second) })
	}
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
}

func (c *Controller) work(ctx context.Context) {
	for c.processNext(ctx) {
	}
}

func (c *Controller) processNext(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	err := c.sync(ctx, key)
	if err == nil || errors.Is(err, errNamespaceTerminating) {
		c.queue.Forget(key)
		return true
	}
	// A conflict only means the cache was behind a write: routine.
	level := slog.LevelInfo
	if apierrors.IsConflict(err) {
		level = slog.LevelDebug
	}
	c.log.Log(ctx, level, "sync failed, will retry", "deployment", key, "err", err)
	c.queue.AddRateLimited(key)
	return true
}
