package replicaset

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"
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

// New builds the controller and registers its handlers on the factory's
// ReplicaSet and Pod informers; call it before factory.Start. rec and log
// may be nil.
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
	rsInformer := factory.Apps().V1().ReplicaSets()
	podInformer := factory.Core().V1().Pods()
	c := &Controller{
		client:    client,
		rsLister:  rsInformer.Lister(),
		podLister: podInformer.Lister(),
		synced:    []cache.InformerSynced{rsInformer.Informer().HasSynced, podInformer.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(rateLimiter(),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "replicaset"}),
		exp:   newExpectations(clk),
		rec:   rec,
		log:   log.With("controller", "replicaset"),
		clock: clk,
	}
	c.register(rsInformer.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc: c.addRS, UpdateFunc: c.updateRS, DeleteFunc: c.deleteRS,
	})
	c.register(podInformer.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc: c.addPod, UpdateFunc: c.updatePod, DeleteFunc: c.deletePod,
	})
	return c
}

// rateLimiter retries a failing key with exponential backoff capped at a
// minute (a lab recovers from faults in seconds; kube-controller-manager's
// 16-minute cap would make recovery look stuck), under an overall budget.
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

// work processes keys until the queue shuts down.
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
	if err := c.sync(ctx, key); err != nil {
		// A conflict only means the cache was behind a write: routine.
		level := slog.LevelInfo
		if apierrors.IsConflict(err) {
			level = slog.LevelDebug
		}
		c.log.Log(ctx, level, "sync failed, will retry", "replicaset", key, "err", err)
		c.queue.AddRateLimited(key)
		return true
	}
	c.queue.Forget(key)
	return true
}
