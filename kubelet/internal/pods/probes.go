package pods

import (
	"bytes"
	"context"
	"sync"

	v1 "k8s.io/api/core/v1"

	"github.com/kinns/kinns/kubelet/probe"
	"github.com/kinns/kinns/kubelet/runtime"
)

// probeFunc runs one probe of one run of a container.
type probeFunc func(ctx context.Context, pod *v1.Pod, c *v1.Container, p *v1.Probe, podIP, runID string) (probe.Result, string)

// podProbes runs the probes of a pod's running containers, one goroutine
// per run, and keeps their verdicts by run ID. A new verdict kicks the pod's
// worker.
type podProbes struct {
	k    *Manager
	kick func()
	wg   sync.WaitGroup

	mu      sync.Mutex
	cancels map[string]context.CancelFunc
	ready   map[string]bool
	started map[string]bool
	bad     map[string]string // why a run must be restarted
}

func newPodProbes(k *Manager, kick func()) *podProbes {
	return &podProbes{k: k, kick: kick, cancels: map[string]context.CancelFunc{},
		ready: map[string]bool{}, started: map[string]bool{}, bad: map[string]string{}}
}

// sync starts probing new running runs and stops probing the others.
func (pp *podProbes) sync(pod *v1.Pod, rs runs, podIP string) {
	live := map[string]bool{}
	for _, c := range probedContainers(pod) {
		last := rs.latest(c.Name)
		if last == nil || last.State != runtime.StateRunning {
			continue
		}
		live[last.ID] = true
		pp.mu.Lock()
		_, ok := pp.cancels[last.ID]
		pp.mu.Unlock()
		if !ok {
			pp.start(pod, c, *last, podIP)
		}
	}
	pp.mu.Lock()
	defer pp.mu.Unlock()
	for id, cancel := range pp.cancels {
		if !live[id] {
			cancel()
			delete(pp.cancels, id)
			delete(pp.ready, id)
			delete(pp.started, id)
			delete(pp.bad, id)
		}
	}
}

func (pp *podProbes) start(pod *v1.Pod, c *v1.Container, run runtime.Container, podIP string) {
	ctx, cancel := context.WithCancel(pp.k.ctx)
	pp.mu.Lock()
	pp.cancels[run.ID] = cancel
	pp.mu.Unlock()
	pp.wg.Go(func() { pp.probeRun(ctx, pod, c, run, podIP) })
}

// probeRun runs the startup probe until it succeeds, then liveness and
// readiness side by side.
func (pp *podProbes) probeRun(ctx context.Context, pod *v1.Pod, c *v1.Container, run runtime.Container, podIP string) {
	worker := func(p *v1.Probe, report func(bool, string)) probe.Worker {
		return probe.Worker{
			Probe:     p,
			Do:        func(ctx context.Context) (probe.Result, string) { return pp.k.probe(ctx, pod, c, p, podIP, run.ID) },
			StartedAt: run.StartedAt, Clock: pp.k.clock, Report: report,
		}
	}
	if c.StartupProbe != nil {
		ok := false
		w := worker(c.StartupProbe, func(healthy bool, msg string) {
			ok = healthy
			pp.verdict(pod, c, run.ID, "Startup", healthy, msg)
		})
		w.StopOnSuccess, w.StopOnFailure = true, true
		if w.Run(ctx); !ok {
			return
		}
	}
	var wg sync.WaitGroup
	if c.LivenessProbe != nil {
		w := worker(c.LivenessProbe, func(healthy bool, msg string) {
			pp.verdict(pod, c, run.ID, "Liveness", healthy, msg)
		})
		w.StopOnFailure = true
		wg.Go(func() { w.Run(ctx) })
	}
	if c.ReadinessProbe != nil {
		w := worker(c.ReadinessProbe, func(healthy bool, msg string) {
			pp.verdict(pod, c, run.ID, "Readiness", healthy, msg)
		})
		wg.Go(func() { w.Run(ctx) })
	}
	wg.Wait()
}

// verdict records a probe's new verdict and has the pod synced.
func (pp *podProbes) verdict(pod *v1.Pod, c *v1.Container, id, kind string, healthy bool, msg string) {
	pp.mu.Lock()
	switch {
	case kind == "Readiness":
		pp.ready[id] = healthy
	case kind == "Startup" && healthy:
		pp.started[id] = true
	case !healthy:
		pp.bad[id] = kind + " probe failed: " + msg
	}
	pp.mu.Unlock()
	if !healthy {
		pp.k.event(pod, v1.EventTypeWarning, "Unhealthy", "%s probe failed: %s", kind, msg)
		pp.k.log.Info("probe failed", "pod", pod.Namespace+"/"+pod.Name, "container", c.Name, "probe", kind, "msg", msg)
	}
	pp.kick()
}

func (pp *podProbes) results() probeResults {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	r := probeResults{ready: map[string]bool{}, started: map[string]bool{}}
	for k, v := range pp.ready {
		r.ready[k] = v
	}
	for k, v := range pp.started {
		r.started[k] = v
	}
	return r
}

func (pp *podProbes) unhealthy() map[string]string {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	out := make(map[string]string, len(pp.bad))
	for k, v := range pp.bad {
		out[k] = v
	}
	return out
}

// stopAll stops every probe and waits for them.
func (pp *podProbes) stopAll() {
	pp.mu.Lock()
	for id, cancel := range pp.cancels {
		cancel()
		delete(pp.cancels, id)
	}
	pp.mu.Unlock()
	pp.wg.Wait()
}

// probedContainers are the containers with a probe: app containers and
// sidecars.
func probedContainers(pod *v1.Pod) []*v1.Container {
	var out []*v1.Container
	add := func(c *v1.Container) {
		if c.LivenessProbe != nil || c.ReadinessProbe != nil || c.StartupProbe != nil {
			out = append(out, c)
		}
	}
	for i := range pod.Spec.InitContainers {
		if isSidecar(pod.Spec.InitContainers[i]) {
			add(&pod.Spec.InitContainers[i])
		}
	}
	for i := range pod.Spec.Containers {
		add(&pod.Spec.Containers[i])
	}
	return out
}

// realProbe probes for real: network probes from this process, exec probes
// through the runtime.
func (k *Manager) realProbe(ctx context.Context, pod *v1.Pod, c *v1.Container, p *v1.Probe, podIP, runID string) (probe.Result, string) {
	t := probe.Target{PodIP: podIP, Container: c, Dial: k.dial, Exec: func(ctx context.Context, cmd []string) (int, []byte, error) {
		var out syncBuffer
		code, err := k.rt.Exec(ctx, runID, runtime.Exec{Cmd: cmd, Stdout: &out, Stderr: &out})
		return code, out.Bytes(), err
	}}
	return probe.Do(ctx, p, t)
}

// syncBuffer collects stdout and stderr, written from two goroutines, up to
// 10 KiB.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := 10<<10 - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}
