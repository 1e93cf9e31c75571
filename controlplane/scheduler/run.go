package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	corelisters "k8s.io/client-go/listers/core/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/events"

	"github.com/kinns/kinns/controlplane/controllers/leader"
)

// LeaseName is the Lease, in kube-system, on which schedulers elect the one
// that schedules, as upstream's kube-scheduler does.
const LeaseName = "kube-scheduler"

// Run schedules pending pods until ctx is done, then returns nil once every
// goroutine it started has stopped. It returns an error only when it cannot
// start (no or bad kubeconfig, invalid leader-election timing). Until the
// API server answers, it waits.
//
// With cfg.LeaderElect, Run schedules only while it holds the Lease
// kube-system/kube-scheduler: standing by, it starts no informer and writes
// nothing but its attempts to acquire the Lease; on each term it builds a
// fresh scheduler (informers, cache, queue), and stops it as soon as the
// term ends, waiting for its workers before anyone else may schedule.
//
// Pending pods are those with no spec.nodeName, spec.schedulerName equal to
// cfg.SchedulerName, no deletionTimestamp and no scheduling gates. Each is
// decided by Schedule on a snapshot kept current by informer events and by
// the pods assumed while their binding is under way, then bound through the
// pods/binding subresource by a pool of workers. A pod that fits nowhere
// gets PodScheduled=False with reason Unschedulable and the FitError
// message, plus a FailedScheduling event; it is retried when a node is
// added or changes, when a pod that held resources goes away, when its own
// spec changes, or after cfg.UnschedulableFlush.
func Run(ctx context.Context, cfg Config) error {
	cfg = cfg.WithDefaults()
	if err := cfg.LeaderElection.Validate(); err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	c, err := newClients(cfg)
	if err != nil {
		return err
	}
	return runElected(ctx, cfg, c)
}

// clients are the scheduler's API clients, each with its own rate limiter:
// events never delay bindings, and nothing delays the Lease's renewals.
type clients struct {
	api    kubernetes.Interface // pods, nodes, namespaces, bindings, status
	events kubernetes.Interface
	lease  kubernetes.Interface
}

// runElected runs the scheduler at once or, with cfg.LeaderElect, during
// each term this instance holds the Lease.
func runElected(ctx context.Context, cfg Config, c clients) error {
	term := func(ctx context.Context) error { return newScheduler(cfg, c.api, c.events).run(ctx) }
	return leader.RunConfigured(ctx, cfg.LeaderElection, c.lease, LeaseName, cfg.Log, term)
}

// newClients returns the scheduler's clients, as system:kube-scheduler.
func newClients(cfg Config) (clients, error) {
	if cfg.Kubeconfig == "" {
		return clients{}, errors.New("scheduler: no kubeconfig in config")
	}
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	if err != nil {
		return clients{}, fmt.Errorf("load kubeconfig %q: %w", cfg.Kubeconfig, err)
	}
	rc.QPS, rc.Burst = cfg.QPS, cfg.Burst
	rc.UserAgent = "kinns-scheduler"
	rc.ContentType = "application/vnd.kubernetes.protobuf"
	rc.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	var c clients
	if c.lease, err = kubernetes.NewForConfig(leader.LeaseClientConfig(rc, "leader-election", leaseRequestTimeout(cfg))); err != nil {
		return clients{}, fmt.Errorf("lease client for %q: %w", rc.Host, err)
	}
	rc.Wrap(leader.Fence) // no request of a term past its deadline is sent
	if c.api, err = kubernetes.NewForConfig(rc); err != nil {
		return clients{}, fmt.Errorf("client for %q: %w", rc.Host, err)
	}
	if c.events, err = kubernetes.NewForConfig(rest.CopyConfig(rc)); err != nil {
		return clients{}, fmt.Errorf("event client for %q: %w", rc.Host, err)
	}
	return c, nil
}

// scheduler is one running scheduler: informers feeding the cache and the
// queue, the scheduling loop, and the workers that talk to the API.
type scheduler struct {
	cfg      Config
	log      *slog.Logger
	client   kubernetes.Interface
	factory  informers.SharedInformerFactory
	pods     corelisters.PodLister
	nsLister corelisters.NamespaceLister
	pdbs     policylisters.PodDisruptionBudgetLister
	// volumeListers read the claims, volumes and classes of pending pods.
	volumeListers Listers
	cache         *clusterCache
	queue         *podQueue

	broadcaster events.EventBroadcaster
	recorder    events.EventRecorder

	workers chan struct{} // one token per API call in flight
	wg      sync.WaitGroup
	synced  chan struct{} // closed once the informers have synced (tests wait on it)
	now     func() time.Time
}

func newScheduler(cfg Config, client, eventClient kubernetes.Interface) *scheduler {
	cfg = cfg.WithDefaults()
	factory := informers.NewSharedInformerFactory(client, 0)
	s := &scheduler{
		cfg:     cfg,
		log:     cfg.Log,
		client:  client,
		factory: factory,
		cache:   newClusterCache(),
		queue:   newPodQueue(cfg.PodInitialBackoff, cfg.PodMaxBackoff, time.Now),
		workers: make(chan struct{}, cfg.BindWorkers),
		synced:  make(chan struct{}),
		now:     time.Now,
	}
	s.broadcaster = events.NewBroadcaster(newYieldingSink(&events.EventSinkImpl{Interface: eventClient.EventsV1()},
		func() bool { return len(s.workers) > 0 }, 5*time.Millisecond, maxEventYield))
	s.recorder = s.broadcaster.NewRecorder(scheme.Scheme, cfg.SchedulerName)
	return s
}

// podInformer watches the pods that hold or may need a place: those in a
// terminal phase are left out by the API server, which sends a deletion
// when a pod finishes (as kube-scheduler's informer does).
func podInformer(client kubernetes.Interface, resync time.Duration) cache.SharedIndexInformer {
	selector := fields.ParseSelectorOrDie("status.phase!=" + string(v1.PodSucceeded) + ",status.phase!=" + string(v1.PodFailed))
	return coreinformers.NewFilteredPodInformer(client, metav1.NamespaceAll, resync,
		cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc},
		func(o *metav1.ListOptions) { o.FieldSelector = selector.String() })
}

func (s *scheduler) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	stop, err := s.start(ctx)
	defer func() {
		cancel()
		stop()
	}()
	if err != nil {
		if ctx.Err() != nil {
			return nil // asked to stop before the informers synced
		}
		return err
	}
	s.log.Info("scheduler started", "schedulerName", s.cfg.SchedulerName, "bindWorkers", s.cfg.BindWorkers)
	s.wg.Go(func() { s.flushLoop(ctx) })
	s.loop(ctx)
	s.wg.Wait()
	s.log.Info("scheduler stopped")
	return nil
}

// start starts event recording and the informers, and waits until the
// handlers have seen every existing object. stop, to be called once ctx is
// done, waits for the informers and stops the event recorder.
func (s *scheduler) start(ctx context.Context) (stop func(), err error) {
	stop = func() {}
	if err := s.broadcaster.StartRecordingToSinkWithContext(ctx); err != nil {
		s.broadcaster.Shutdown()
		return stop, fmt.Errorf("start event recording: %w", err)
	}
	regs, err := s.watch()
	if err != nil {
		s.broadcaster.Shutdown()
		return stop, err
	}
	s.factory.Start(ctx.Done())
	stop = func() {
		s.factory.Shutdown()
		s.broadcaster.Shutdown()
	}
	if !cache.WaitForCacheSync(ctx.Done(), regs...) {
		return stop, fmt.Errorf("scheduler: informers did not sync: %w", context.Cause(ctx))
	}
	close(s.synced)
	return stop, nil
}

// watch registers the event handlers and returns what tells that each has
// seen the initial list.
func (s *scheduler) watch() ([]cache.InformerSynced, error) {
	pods := s.factory.InformerFor(&v1.Pod{}, podInformer)
	nodes := s.factory.Core().V1().Nodes()
	namespaces := s.factory.Core().V1().Namespaces()
	s.pods = corelisters.NewPodLister(pods.GetIndexer())
	s.nsLister = namespaces.Lister()
	budgets := s.factory.Policy().V1().PodDisruptionBudgets()
	s.pdbs = budgets.Lister()
	claims, volumes, classes := s.factory.Core().V1().PersistentVolumeClaims(), s.factory.Core().V1().PersistentVolumes(), s.factory.Storage().V1().StorageClasses()
	s.volumeListers = Listers{Claims: claims.Lister(), Volumes: volumes.Lister(), Classes: classes.Lister()}
	var regs []cache.InformerSynced
	for _, h := range []struct {
		informer cache.SharedIndexInformer
		handler  cache.ResourceEventHandlerFuncs
	}{
		{nodes.Informer(), s.nodeHandler()},
		{pods, s.podHandler()},
		{namespaces.Informer(), s.namespaceHandler()},
		{claims.Informer(), s.volumeHandler()},
		{volumes.Informer(), s.volumeHandler()},
		{classes.Informer(), s.volumeHandler()},
		{budgets.Informer(), cache.ResourceEventHandlerFuncs{}}, // read by preemption
	} {
		reg, err := h.informer.AddEventHandler(h.handler)
		if err != nil {
			return nil, fmt.Errorf("scheduler: add event handler: %w", err)
		}
		regs = append(regs, reg.HasSynced)
	}
	return regs, nil
}

// loop decides one pod at a time until ctx is done.
func (s *scheduler) loop(ctx context.Context) {
	for {
		key, t, ok := s.queue.Pop(ctx)
		if !ok {
			return
		}
		s.scheduleOne(ctx, key, t)
	}
}

// flushLoop is the safety net for parked pods that no event brought back.
func (s *scheduler) flushLoop(ctx context.Context) {
	tick := time.NewTicker(max(s.cfg.UnschedulableFlush/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if n := s.queue.Flush(s.cfg.UnschedulableFlush); n > 0 {
				s.log.Debug("retrying unschedulable pods after the flush period", "pods", n)
			}
		}
	}
}

// async runs f on a worker once one is free, or drops it if ctx is done
// first. The scheduling loop thus waits while every worker is busy.
func (s *scheduler) async(ctx context.Context, f func(context.Context)) {
	select {
	case s.workers <- struct{}{}:
	case <-ctx.Done():
		return
	}
	s.wg.Go(func() {
		defer func() { <-s.workers }()
		f(ctx)
	})
}

// leaseRequestTimeout bounds one Lease request: a third of RenewDeadline,
// so that two stuck requests still leave time for one that answers.
func leaseRequestTimeout(cfg Config) time.Duration {
	return max(cfg.RenewDeadline/3, 500*time.Millisecond)
}
