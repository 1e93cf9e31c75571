// Package loop is the worker loop shared by kinns' controllers: a rate-limited
// queue of string keys drained by a few workers that call a level-based sync.
package loop

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// MaxRetryDelay caps the per-key backoff. Upstream caps it at 1000 s; a lab
// recovering from an outage must converge within seconds, not minutes.
const MaxRetryDelay = 10 * time.Second

// Queue is a named rate-limited queue of object keys.
type Queue = workqueue.TypedRateLimitingInterface[string]

// NewQueue returns a queue whose failed keys are retried after 5 ms doubling
// up to MaxRetryDelay, with an overall 50 qps / 300 burst cap on retries.
func NewQueue(name string) Queue {
	limiter := workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](5*time.Millisecond, MaxRetryDelay),
		&workqueue.TypedBucketRateLimiter[string]{Limiter: rate.NewLimiter(rate.Limit(50), 300)},
	)
	return workqueue.NewTypedRateLimitingQueueWithConfig(limiter, workqueue.TypedRateLimitingQueueConfig[string]{Name: name})
}

// Enqueue adds the namespace/name key of obj (a typed object or a deletion
// tombstone) to q.
func Enqueue(q Queue, obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err == nil {
		q.Add(key)
	}
}

// Run waits for the caches, then drains q with workers goroutines calling sync
// until ctx is done; it returns after every worker has stopped. A key whose
// sync fails is retried with backoff; a key that succeeds is forgotten.
func Run(ctx context.Context, log *slog.Logger, q Queue, workers int, syncKey func(context.Context, string) error, synced ...cache.InformerSynced) {
	defer q.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return
	}
	if workers < 1 {
		workers = 1
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for process(ctx, log, q, syncKey) {
			}
		})
	}
	<-ctx.Done()
	q.ShutDown()
	wg.Wait()
}

func process(ctx context.Context, log *slog.Logger, q Queue, syncKey func(context.Context, string) error) bool {
	key, quit := q.Get()
	if quit {
		return false
	}
	defer q.Done(key)
	if err := syncKey(ctx, key); err != nil {
		if ctx.Err() == nil {
			// A conflict only means the cache was behind a write: routine.
			level := slog.LevelInfo
			if apierrors.IsConflict(err) {
				level = slog.LevelDebug
			}
			log.Log(ctx, level, "sync failed, will retry", "key", key, "err", err, "retries", q.NumRequeues(key))
		}
		q.AddRateLimited(key)
		return true
	}
	q.Forget(key)
	return true
}

// Unwrap returns the object of an informer event: a deleted object may come
// as a tombstone (cache.DeletedFinalStateUnknown, when the watch missed the
// delete and a relist found it gone), which holds its last known state.
func Unwrap(obj any) any {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return t.Obj
	}
	return obj
}
