package pods

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kinns/kinns/kubelet/runtime"
)

// podWorker owns one pod (by UID): one goroutine syncs it, level-based,
// whenever something may have changed — a new version from the API, a
// container exit, a probe result, the end of a backoff, the periodic resync.
// Kicks coalesce, so a burst of events costs one sync.
type podWorker struct {
	k    *Manager
	uid  types.UID
	kick chan struct{}

	mu   sync.Mutex
	pod  *v1.Pod // latest from the API, never mutated; nil for an orphan
	ref  runtime.PodRef
	gone bool // the API no longer has the pod

	ip string // the sandbox's address, for PortForward
	// admit: the pod passed admission (or was running already), so it holds
	// its share of the node for the admission of others.
	admit bool

	// Owned by the worker's goroutine.
	rejected   *rejection // why admission refused the pod
	sandbox    *sandbox
	waiting    map[string]waiting // per container: failed pull or start
	pullFailed map[string]time.Time
	// pullBackOffTold: the pull failure (pullFailed) whose back-off the
	// pod was told of, so that one back-off is one BackOff event.
	pullBackOffTold map[string]time.Time
	mountMsg        string // the last FailedMount event's message
	probes          *podProbes
	killed          map[string]killKind // runs a sync stopped, and what follows
	// messages holds the termination messages of exited runs, per run ID.
	messages map[string]string
	// volumesAt and volumesMeta: when the pod's written volumes were
	// last refreshed, and the pod's metadata then.
	volumesAt   time.Time
	volumesMeta metav1.ObjectMeta
	lastSent    *v1.PodStatus
	lastPatch   time.Time
	// patched is the pod as our last status patch left it (the API's
	// answer), newer than the informer's until the informer catches up.
	patched *v1.Pod
	done    bool // the restart policy let nothing run again
	// deadlineExceeded: the pod ran past its activeDeadlineSeconds.
	deadlineExceeded bool
	// resizePending: the pod's resize the kubelet has not admitted, and
	// why; resizeError: why applying an admitted one failed in the last
	// sync.
	resizePending *pendingResize
	resizeError   string
	stopped       bool // everything stopped for good (deletion or final phase)

	// step names what the sync is doing, for the watchdog's warning.
	step atomic.Pointer[string]
}

// slowSync is how long a sync may run before the watchdog logs the step it
// is stuck on: a sync waits on containerd and the API, and a hang there would
// otherwise leave a pod with no status and no clue.
const slowSync = 30 * time.Second

// at records the step the sync is at.
func (w *podWorker) at(step string) { w.step.Store(&step) }

func newPodWorker(k *Manager, uid types.UID, ref runtime.PodRef) *podWorker {
	w := &podWorker{
		k: k, uid: uid, ref: ref, kick: make(chan struct{}, 1),
		waiting: map[string]waiting{}, pullFailed: map[string]time.Time{}, pullBackOffTold: map[string]time.Time{},
		killed: map[string]killKind{}, messages: map[string]string{},
	}
	w.probes = newPodProbes(k, w.kickNow)
	return w
}

func (w *podWorker) setPod(pod *v1.Pod) {
	w.mu.Lock()
	w.pod = pod
	w.mu.Unlock()
	w.kickNow()
}

func (w *podWorker) setGone() {
	w.mu.Lock()
	w.gone = true
	w.mu.Unlock()
	w.kickNow()
}

func (w *podWorker) kickNow() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *podWorker) snapshot() (*v1.Pod, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod, w.gone
}

// run syncs until the pod is gone and cleaned up, or ctx ends (the kubelet
// stops: containers are left running for the next one).
func (w *podWorker) run(ctx context.Context) {
	defer w.probes.stopAll()
	timer := w.k.clock.NewTimer(time.Hour)
	timer.Stop()
	for {
		requeue, finished := w.watchedSync(ctx)
		if ctx.Err() != nil || finished && w.k.retire(w) {
			return
		}
		if requeue > 0 {
			timer.Stop()
			timer.Reset(requeue)
		}
		select {
		case <-ctx.Done():
			return
		case <-w.kick:
		case <-timer.C():
		}
	}
}

// watchedSync is sync with a watchdog: a timer (no goroutine per sync) that
// warns once with the step a sync is at when it runs over slowSync, and a
// line when such a sync ends.
func (w *podWorker) watchedSync(ctx context.Context) (time.Duration, bool) {
	start := time.Now()
	t := time.AfterFunc(slowSync, func() {
		step := "?"
		if p := w.step.Load(); p != nil {
			step = *p
		}
		w.k.log.Warn("pod sync is slow", "pod", w.name(), "step", step, "for", slowSync)
	})
	defer func() {
		if !t.Stop() {
			w.k.log.Warn("slow pod sync ended", "pod", w.name(), "took", time.Since(start).Round(time.Second))
		}
	}()
	return w.sync(ctx)
}

// sync does what the pod's state calls for; it returns when to sync again
// at the latest, and whether the worker is finished.
func (w *podWorker) sync(ctx context.Context) (time.Duration, bool) {
	pod, gone := w.snapshot()
	switch {
	case gone || pod == nil:
		return w.cleanup(ctx, pod)
	case pod.DeletionTimestamp != nil:
		return w.terminate(ctx, pod), false
	case pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed:
		return w.finish(ctx, pod), false
	}
	return w.syncPod(ctx, pod), false
}

func (w *podWorker) sandboxIP() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ip
}
