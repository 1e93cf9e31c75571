package endpoints

import (
	"context"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	"github.com/kinns/kinns/controlplane/controllers/internal/loop"
)

// Write picks which objects a Controller maintains.
type Write int

const (
	// WriteBoth is the zero value: EndpointSlices and Endpoints.
	WriteBoth Write = iota
	// WriteSlices maintains discovery.k8s.io/v1 EndpointSlices only.
	WriteSlices
	// WriteEndpoints maintains core/v1 Endpoints only.
	WriteEndpoints
)

// Options tune a Controller.
type Options struct {
	// Write says which objects to maintain. The controller manager runs one
	// controller per kind, each with the identity upstream gives it
	// (endpointslice-controller, endpoint-controller), so RBAC matches.
	Write Write
}

// Controller keeps the endpoints of every Service with a selector in line
// with the pods it selects.
type Controller struct {
	client   kubernetes.Interface
	rec      events.EventRecorder
	log      *slog.Logger
	slices   bool
	legacy   bool
	services corelisters.ServiceLister
	pods     corelisters.PodLister
	sliceL   discoverylisters.EndpointSliceLister
	epL      corelisters.EndpointsLister
	synced   []cache.InformerSynced
	queue    loop.Queue
}

// New registers the informers the controller needs in d.Factory; start the
// factory after New and before or after Run.
func New(d deps.Deps, opts Options) (*Controller, error) {
	d = d.Defaults()
	c := &Controller{
		client: d.Client, rec: d.Recorder, log: d.Log,
		slices: opts.Write != WriteEndpoints, legacy: opts.Write != WriteSlices,
		queue: loop.NewQueue("endpoints"),
	}
	svcInf := d.Factory.Core().V1().Services()
	podInf := d.Factory.Core().V1().Pods()
	c.services, c.pods = svcInf.Lister(), podInf.Lister()
	c.synced = append(c.synced, svcInf.Informer().HasSynced, podInf.Informer().HasSynced)
	svcInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { loop.Enqueue(c.queue, o) },
		UpdateFunc: func(_, o any) { loop.Enqueue(c.queue, o) },
		DeleteFunc: func(o any) { loop.Enqueue(c.queue, o) },
	})
	podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { c.enqueuePod(o) },
		UpdateFunc: func(old, o any) { c.enqueuePod(old); c.enqueuePod(o) },
		DeleteFunc: func(o any) { c.enqueuePod(o) },
	})
	if c.slices {
		inf := d.Factory.Discovery().V1().EndpointSlices()
		c.sliceL = inf.Lister()
		c.synced = append(c.synced, inf.Informer().HasSynced)
		inf.Informer().AddEventHandler(ownedHandler(c.enqueueSlice))
	}
	if c.legacy {
		inf := d.Factory.Core().V1().Endpoints()
		c.epL = inf.Lister()
		c.synced = append(c.synced, inf.Informer().HasSynced)
		inf.Informer().AddEventHandler(ownedHandler(c.enqueueEndpoints))
	}
	return c, nil
}

// Run syncs Services with workers goroutines until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	c.log.Info("starting", "slices", c.slices, "endpoints", c.legacy)
	loop.Run(ctx, c.log, c.queue, workers, c.Sync, c.synced...)
}

// ownedHandler calls f for every change, so an edited or deleted object the
// controller owns is put back.
func ownedHandler(f func(any)) cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    f,
		UpdateFunc: func(_, o any) { f(o) },
		DeleteFunc: f,
	}
}

// enqueuePod queues the Services in the pod's namespace that select it.
func (c *Controller) enqueuePod(o any) {
	pod, ok := loop.Unwrap(o).(*corev1.Pod)
	if !ok {
		return
	}
	svcs, err := c.services.Services(pod.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, s := range svcs {
		if s.Spec.Selector != nil && labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(pod.Labels)) {
			loop.Enqueue(c.queue, s)
		}
	}
}

func (c *Controller) enqueueSlice(o any) {
	s, ok := loop.Unwrap(o).(*discoveryv1.EndpointSlice)
	if !ok || s.Labels[discoveryv1.LabelManagedBy] != SliceManager || s.Labels[discoveryv1.LabelServiceName] == "" {
		return
	}
	c.queue.Add(s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName])
}

func (c *Controller) enqueueEndpoints(o any) {
	ep, ok := loop.Unwrap(o).(*corev1.Endpoints)
	if !ok || ep.Labels[EndpointsManagedByLabel] != EndpointsManager {
		return
	}
	c.queue.Add(ep.Namespace + "/" + ep.Name)
}
