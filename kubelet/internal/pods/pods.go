package pods

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	corev1informers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/kinns/kinns/cni"
	"github.com/kinns/kinns/kubelet/config"
	"github.com/kinns/kinns/kubelet/internal/images"
	"github.com/kinns/kinns/kubelet/internal/podinputs"
	"github.com/kinns/kinns/kubelet/records"
	"github.com/kinns/kinns/kubelet/runtime"
)

// Network gives pods their network namespace; *cni.Plugin is the real one.
type Network interface {
	// Add also maps the pod's host ports to it.
	Add(ctx context.Context, pod cni.PodRef, netns string, ports ...cni.PortMapping) (cni.Result, error)
	Del(ctx context.Context, pod cni.PodRef, netns string) error
	Status(ctx context.Context) error
}

// Deps are the side effects of the pod worker, replaced by fakes in tests.
type Deps struct {
	Client  kubernetes.Interface
	Runtime runtime.Runtime
	// Images is the node's image store; nil: Runtime, which must then
	// implement runtime.ImageService.
	Images  runtime.ImageService
	Network Network
	// Clock defaults to the real one.
	Clock clock.WithTicker
	// Dial reaches pods (probes, port forwarding); nil means from this
	// process, which lives in the node's network namespace.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	// probe runs one probe; nil means the real prober.
	probe probeFunc
	// spawn starts a pod worker's goroutine; nil means a goroutine the
	// manager waits for when it stops. Tests use it to order the start.
	spawn func(func())
}

// Manager runs the pods bound to one node: one worker per pod. It is the
// kubelet server's Provider.
type Manager struct {
	cfg     config.Config
	client  kubernetes.Interface
	rt      runtime.Runtime
	images  *images.Manager
	net     Network
	inputs  *podinputs.Inputs
	allocs  *allocations
	clock   clock.WithTicker
	log     *slog.Logger
	backoff *restartBackoff
	probe   probeFunc
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	spawn   func(func())
	events  record.EventRecorder
	// admitters are the node's admission checks, built in Run.
	admitters []admitter

	pods   corelisters.PodLister // set under mu once, when the informer starts
	synced cache.InformerSynced
	// nodes watches this node's Node; admission reads it there. Set under
	// mu once, with pods.
	nodes corev1informers.NodeInformer

	// admitMu makes admissions one at a time, so two new pods never both
	// take the last of something.
	admitMu sync.Mutex

	mu      sync.Mutex
	workers map[types.UID]*podWorker
	ctx     context.Context
	wg      sync.WaitGroup
}

// New makes the manager of the pods of the node cfg describes; cfg must be
// defaulted (config.Config.Default).
func New(cfg config.Config, d Deps) *Manager {
	k := &Manager{
		cfg: cfg, client: d.Client, rt: d.Runtime, net: d.Network, clock: d.Clock, log: cfg.Log,
		inputs:  podinputs.New(cfg, d.Client),
		backoff: newRestartBackoff(cfg.BackoffInitial, cfg.BackoffMax, cfg.BackoffReset),
		probe:   d.probe,
		dial:    d.Dial,
		spawn:   d.spawn,
		workers: map[types.UID]*podWorker{},
	}
	k.allocs = newAllocations(k.inputs.PodDir)
	if k.spawn == nil {
		k.spawn = k.wg.Go
	}
	if k.clock == nil {
		k.clock = clock.RealClock{}
	}
	if k.probe == nil {
		k.probe = k.realProbe
	}
	if k.dial == nil {
		k.dial = (&net.Dialer{}).DialContext
	}
	if d.Images == nil {
		d.Images = d.Runtime.(runtime.ImageService)
	}
	if m, ok := d.Runtime.(runtime.ImageMounter); ok {
		k.inputs.SetImageMounter(m)
	}
	k.images = images.New(images.Config{
		Store: d.Images, Secret: k.secret, Clock: k.clock, Log: cfg.Log,
		Event: func(pod *v1.Pod, kind, reason, msg string) { k.event(pod, kind, reason, "%s", msg) },
	})
	return k
}

// Run watches the pods bound to the node and syncs them until ctx ends,
// with every pod again each SyncInterval and whatever the runtime or the
// records hold of pods the API no longer has. It leaves every container
// running when it returns.
func (k *Manager) Run(ctx context.Context) error {
	k.ctx = ctx
	admitters, err := newAdmitters(ctx, k.cfg)
	if err != nil {
		return err
	}
	k.admitters = admitters
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: k.client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	k.events = broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: "kubelet", Host: k.cfg.NodeName})
	defer k.wg.Wait() // pod workers, before the broadcaster goes

	stopServices, err := k.inputs.WatchServices(ctx)
	if err != nil {
		return ignoreCancel(ctx, err)
	}
	defer stopServices()
	stopWatches, err := k.watchPods(ctx)
	if err != nil {
		return ignoreCancel(ctx, err)
	}
	defer stopWatches()
	defer k.inputs.WatchPodCertificates(ctx, podSource{k}, k.events, k.nodeInformer())()
	if err := k.inputs.CleanOrphanImageViews(ctx); err != nil {
		k.log.Warn("clean orphan image volume views", "err", err)
	}
	k.housekeeping(ctx)
	t := k.clock.NewTicker(k.cfg.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
			k.housekeeping(ctx)
		}
	}
}

// ContainerExited has the pod of an ended run synced; the runtime calls it.
func (k *Manager) ContainerExited(c runtime.Container) {
	k.mu.Lock()
	w := k.workers[types.UID(c.Pod.UID)]
	k.mu.Unlock()
	if w != nil {
		w.kickNow()
	}
}

// watchPods starts the informers of the pods bound to this node and of its
// Node (for admission, as upstream's kubelet reads a node lister); the
// returned func stops them.
func (k *Manager) watchPods(ctx context.Context) (stop func(), err error) {
	only := func(field string) informers.SharedInformerOption {
		return informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector(field, k.cfg.NodeName).String()
		})
	}
	podFactory := informers.NewSharedInformerFactoryWithOptions(k.client, 0, only("spec.nodeName"))
	nodeFactory := informers.NewSharedInformerFactoryWithOptions(k.client, 0, only("metadata.name"))
	stop = func() { podFactory.Shutdown(); nodeFactory.Shutdown() }
	inf := podFactory.Core().V1().Pods()
	_, err = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { k.podChanged(obj) },
		UpdateFunc: func(_, obj any) { k.podChanged(obj) },
		DeleteFunc: k.podRemoved,
	})
	if err != nil {
		return nil, fmt.Errorf("watch pods: %w", err)
	}
	nodes := nodeFactory.Core().V1().Nodes()
	nodes.Informer() // registered before Start, so it starts
	k.mu.Lock()      // the API server (findPod) reads it from its own goroutines
	k.pods, k.synced, k.nodes = inf.Lister(), inf.Informer().HasSynced, nodes
	k.mu.Unlock()
	podFactory.Start(ctx.Done())
	nodeFactory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), k.synced, nodes.Informer().HasSynced) {
		stop()
		return nil, fmt.Errorf("watch pods: %w", ctx.Err())
	}
	return stop, nil
}

func (k *Manager) nodeInformer() corev1informers.NodeInformer {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.nodes
}

func (k *Manager) podChanged(obj any) {
	pod, ok := obj.(*v1.Pod)
	if !ok || pod.Spec.NodeName != k.cfg.NodeName {
		return
	}
	k.deliver(pod.UID, podRefOf(pod), func(w *podWorker) { w.setPod(pod) })
}

func (k *Manager) podRemoved(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*v1.Pod)
	if !ok {
		return
	}
	k.mu.Lock()
	w := k.workers[pod.UID]
	if w != nil {
		w.setGone() // under k.mu, so it cannot miss a worker that retires
	}
	k.mu.Unlock()
	k.inputs.ForgetPodCertificates(k.ctx, pod)
}

// podSource shows the pod certificate manager the node's pods, from the
// informer's cache.
type podSource struct{ k *Manager }

func (s podSource) GetPods() []*v1.Pod {
	s.k.mu.Lock()
	lister := s.k.pods
	s.k.mu.Unlock()
	if lister == nil {
		return nil
	}
	all, _ := lister.List(labels.Everything())
	return all
}

func (s podSource) GetPodByUID(uid types.UID) (*v1.Pod, bool) {
	for _, p := range s.GetPods() {
		if p.UID == uid {
			return p, true
		}
	}
	return nil, false
}

// deliver hands an update to the pod's worker, starting one if the pod has
// none. Two rules keep a pod from being dropped:
//   - a new worker gets its first update before its goroutine starts, so its
//     first sync never mistakes "not told yet" for "gone";
//   - updates are made under k.mu, where a finished worker also retires (see
//     retire), so an update either reaches a worker that will sync it or
//     finds no worker and starts a new one.
func (k *Manager) deliver(uid types.UID, ref runtime.PodRef, update func(*podWorker)) {
	k.mu.Lock()
	w, ok := k.workers[uid]
	if !ok {
		w = newPodWorker(k, uid, ref)
		k.workers[uid] = w
	}
	update(w)
	k.mu.Unlock()
	if !ok {
		k.spawn(func() { w.run(k.ctx) })
	}
}

// retire removes a worker whose pod is cleaned up, unless something kicked
// it since its last sync (an update may have arrived): then it must sync
// again. It reports whether the worker may end.
func (k *Manager) retire(w *podWorker) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(w.kick) > 0 {
		return false
	}
	if k.workers[w.uid] == w {
		delete(k.workers, w.uid)
	}
	return true
}

// housekeeping syncs every pod, and gives a worker to whatever the runtime
// or the sandbox records hold for pods the API no longer has (orphans, from
// a kubelet that was down while they were deleted), which removes them.
func (k *Manager) housekeeping(ctx context.Context) {
	k.mu.Lock()
	for _, w := range k.workers {
		w.kickNow()
	}
	k.mu.Unlock()
	ctrs, err := k.rt.List(ctx, "")
	if err != nil {
		k.log.Warn("list containers for housekeeping", "err", err)
	}
	refs := map[types.UID]runtime.PodRef{}
	for _, c := range ctrs {
		refs[types.UID(c.Pod.UID)] = c.Pod
	}
	for _, r := range records.All(k.cfg.StateDir) {
		refs[types.UID(r.Pod.UID)] = runtime.PodRef(r.Pod)
	}
	for uid, ref := range refs {
		if k.known(uid) {
			continue
		}
		k.log.Info("removing orphaned pod", "pod", ref.Namespace+"/"+ref.Name, "uid", uid)
		k.deliver(uid, ref, (*podWorker).setGone)
	}
}

// known: the pod has a worker, or the API (cache) still has it.
func (k *Manager) known(uid types.UID) bool {
	k.mu.Lock()
	_, ok := k.workers[uid]
	k.mu.Unlock()
	if ok {
		return true
	}
	pods, _ := k.pods.List(labels.Everything())
	for _, p := range pods {
		if p.UID == uid {
			return true
		}
	}
	return false
}

func podRefOf(pod *v1.Pod) runtime.PodRef {
	return runtime.PodRef{UID: string(pod.UID), Namespace: pod.Namespace, Name: pod.Name}
}

// ignoreCancel drops an error caused by the kubelet being stopped.
func ignoreCancel(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (k *Manager) event(pod *v1.Pod, kind, reason, format string, args ...any) {
	if k.events != nil && pod != nil {
		k.events.Event(pod, kind, reason, fmt.Sprintf(format, args...))
	}
}

// secret reads a pull secret through the API (bounded, as every call of a
// start).
func (k *Manager) secret(ctx context.Context, namespace, name string) (*v1.Secret, error) {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	return k.client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
}
