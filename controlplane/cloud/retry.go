package cloud

import (
	"sync"
	"time"

	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// retryingInformer is the Service informer the upstream service
// controller is given, with one addition: Retry hands Services to the
// controller's event handlers again, as if they had just been added, so
// that it syncs them now. The controller offers no other way to retry a
// Service early, and it retries one that failed (a pool exhausted) only
// after a back-off that grows to 5 min; a freed address should go to a
// waiting Service at once.
type retryingInformer struct {
	coreinformers.ServiceInformer
	inf *recordingInformer
}

func newRetryingInformer(s coreinformers.ServiceInformer) retryingInformer {
	return retryingInformer{ServiceInformer: s, inf: &recordingInformer{SharedIndexInformer: s.Informer()}}
}

func (r retryingInformer) Informer() cache.SharedIndexInformer { return r.inf }

// Retry re-delivers the Services of keys (namespace/name) that the
// lister has.
func (r retryingInformer) Retry(keys []string) {
	for _, k := range keys {
		obj, exists, err := r.inf.GetIndexer().GetByKey(k)
		if err != nil || !exists {
			continue
		}
		for _, h := range r.inf.recorded() {
			h.OnAdd(obj, false)
		}
	}
}

// recordingInformer remembers the handlers added to it.
type recordingInformer struct {
	cache.SharedIndexInformer
	mu       sync.Mutex
	handlers []cache.ResourceEventHandler
}

func (i *recordingInformer) AddEventHandler(h cache.ResourceEventHandler) (cache.ResourceEventHandlerRegistration, error) {
	i.record(h)
	return i.SharedIndexInformer.AddEventHandler(h)
}

func (i *recordingInformer) AddEventHandlerWithResyncPeriod(h cache.ResourceEventHandler, p time.Duration) (cache.ResourceEventHandlerRegistration, error) {
	i.record(h)
	return i.SharedIndexInformer.AddEventHandlerWithResyncPeriod(h, p)
}

func (i *recordingInformer) record(h cache.ResourceEventHandler) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.handlers = append(i.handlers, h)
}

func (i *recordingInformer) recorded() []cache.ResourceEventHandler {
	i.mu.Lock()
	defer i.mu.Unlock()
	return append([]cache.ResourceEventHandler(nil), i.handlers...)
}
