package pods

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kinns/kinns/cni"
	"github.com/kinns/kinns/kubelet/runtime"
)

// fakeRuntime keeps containers in memory. Runs start Running; tests end them
// with exit.
type fakeRuntime struct {
	mu      sync.Mutex
	ctrs    map[string]runtime.Container
	specs   map[string]runtime.Spec
	missing map[string]bool // images that cannot be pulled
	starts  []string        // "<container>/<attempt>" in start order
	stops   map[string]time.Duration
	removed []string
	updates []string // "<container>/<attempt> <resources>" in order
	usage   int64    // every run's memory usage
	onExit  func(runtime.Container)
}

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{ctrs: map[string]runtime.Container{}, specs: map[string]runtime.Spec{},
		missing: map[string]bool{}, stops: map[string]time.Duration{}}
}

func (f *fakeRuntime) Version(context.Context) (string, error) { return "1.6.20", nil }

func (f *fakeRuntime) EnsureImage(_ context.Context, ref, policy string) (runtime.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.missing[ref] {
		return runtime.Image{}, &runtime.ImageError{Reason: "ErrImagePull", Image: ref, Err: fmt.Errorf("dial tcp: lookup %s: no such host", ref)}
	}
	return runtime.Image{Ref: ref, ID: ref + "@sha256:abcd"}, nil
}

func (f *fakeRuntime) LocalImage(_ context.Context, ref string) (runtime.Image, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.missing[ref] || f.missing[strings.TrimPrefix(ref, "docker.io/library/")] {
		return runtime.Image{}, false, nil
	}
	return runtime.Image{Ref: ref, ID: ref + "@sha256:abcd"}, true, nil
}

func (f *fakeRuntime) PullImage(_ context.Context, ref string, _ *runtime.Auth) (runtime.Image, error) {
	return runtime.Image{}, &runtime.ImageError{Reason: "ErrImagePull", Image: ref, Err: fmt.Errorf("dial tcp: lookup %s: no such host", ref)}
}

func (f *fakeRuntime) Start(_ context.Context, s runtime.Spec) (runtime.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := runtime.Container{
		ID: s.ID(), Pod: s.Pod, Name: s.Name, Init: s.Init, Ephemeral: s.Ephemeral, Attempt: s.Attempt,
		Image: s.Image.Ref, ImageID: s.Image.ID, State: runtime.StateRunning,
		StartedAt: time.Now(), LogPath: s.LogPath, Resources: s.Resources,
	}
	f.ctrs[c.ID], f.specs[c.ID] = c, s
	f.starts = append(f.starts, fmt.Sprintf("%s/%d", s.Name, s.Attempt))
	return c, nil
}

// exit ends a running run as if its process exited with code.
func (f *fakeRuntime) exit(id string, code int) {
	f.mu.Lock()
	c, ok := f.ctrs[id]
	if !ok || c.State != runtime.StateRunning {
		f.mu.Unlock()
		return
	}
	c.State, c.ExitCode, c.FinishedAt = runtime.StateExited, code, time.Now()
	c.Reason = runtime.ReasonError
	if code == 0 {
		c.Reason = runtime.ReasonCompleted
	}
	f.ctrs[id] = c
	onExit := f.onExit
	f.mu.Unlock()
	if onExit != nil {
		onExit(c)
	}
}

func (f *fakeRuntime) Stop(_ context.Context, id string, grace time.Duration) error {
	f.mu.Lock()
	f.stops[id] = grace
	f.mu.Unlock()
	f.exit(id, 0) // testapp exits 0 on SIGTERM
	return nil
}

func (f *fakeRuntime) Remove(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.ctrs[id]; ok {
		f.removed = append(f.removed, id)
	}
	delete(f.ctrs, id)
	return nil
}

func (f *fakeRuntime) List(_ context.Context, uid string) ([]runtime.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []runtime.Container
	for _, c := range f.ctrs {
		if uid == "" || c.Pod.UID == uid {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (f *fakeRuntime) Exec(context.Context, string, runtime.Exec) (int, error) { return 0, nil }
func (f *fakeRuntime) Attach(context.Context, string, runtime.Attach) error    { return nil }

func (f *fakeRuntime) Update(_ context.Context, id string, r runtime.Resources) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.ctrs[id]
	if !ok || c.State != runtime.StateRunning {
		return fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
	}
	c.Resources = r
	f.ctrs[id] = c
	f.updates = append(f.updates, fmt.Sprintf("%s/%d %s", c.Name, c.Attempt, r))
	return nil
}

func (f *fakeRuntime) MemoryUsage(context.Context, string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.usage, nil
}
func (f *fakeRuntime) RemoveCgroup(string) error { return nil }

// running returns the running run of a container, if any.
func (f *fakeRuntime) running(name string) (runtime.Container, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.ctrs {
		if c.Name == name && c.State == runtime.StateRunning {
			return c, true
		}
	}
	return runtime.Container{}, false
}

func (f *fakeRuntime) startList() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.starts...)
}

func (f *fakeRuntime) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.ctrs)
}

// fakeNetwork hands out addresses of 10.244.1.0/24.
type fakeNetwork struct {
	mu    sync.Mutex
	ips   map[string]netip.Addr
	ports map[string][]cni.PortMapping
	next  byte
	dels  []string
}

func newFakeNetwork() *fakeNetwork {
	return &fakeNetwork{ips: map[string]netip.Addr{}, ports: map[string][]cni.PortMapping{}, next: 2}
}

func (n *fakeNetwork) Add(_ context.Context, pod cni.PodRef, ns string, ports ...cni.PortMapping) (cni.Result, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.ports[pod.UID] = ports
	ip, ok := n.ips[pod.UID]
	if !ok {
		ip = netip.AddrFrom4([4]byte{10, 244, 1, n.next})
		n.next++
		n.ips[pod.UID] = ip
	}
	return cni.Result{IP: ip, Prefix: netip.PrefixFrom(ip, 24), Interface: "eth0",
		MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, NetnsPath: "/run/netns/" + ns}, nil
}

func (n *fakeNetwork) Del(_ context.Context, pod cni.PodRef, ns string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.ips[pod.UID]; ok {
		n.dels = append(n.dels, pod.UID)
	}
	delete(n.ips, pod.UID)
	delete(n.ports, pod.UID)
	return nil
}

func (n *fakeNetwork) Status(context.Context) error { return nil }

func (n *fakeNetwork) has(uid string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.ips[uid]
	return ok
}

// unboundedWatches makes the fake clientset's watches hold any number of
// events. Its tracker sends into a channel of 100 and panics when it is
// full, which a burst of hundreds of pods and their status patches does
// while the informer is busy. Writes go through a tracker that tells its own
// watchers, each with an unbounded queue; the inner tracker has none.
func unboundedWatches(c *fake.Clientset) {
	t := &broadcastTracker{ObjectTracker: c.Tracker()}
	c.PrependReactor("*", "*", k8stesting.ObjectReaction(t))
	c.PrependWatchReactor("*", func(a k8stesting.Action) (bool, watch.Interface, error) {
		return true, t.watch(a.GetResource(), a.GetNamespace()), nil
	})
}

type broadcastTracker struct {
	k8stesting.ObjectTracker
	mu       sync.Mutex // orders writes and their events
	watchers []*queuedWatch
}

type queuedWatch struct {
	gvr  schema.GroupVersionResource
	ns   string
	out  chan watch.Event
	in   chan watch.Event // the pump is always ready to take from it
	stop chan struct{}
	once sync.Once
}

func (t *broadcastTracker) watch(gvr schema.GroupVersionResource, ns string) watch.Interface {
	w := &queuedWatch{gvr: gvr, ns: ns, out: make(chan watch.Event), in: make(chan watch.Event), stop: make(chan struct{})}
	t.mu.Lock()
	t.watchers = append(t.watchers, w)
	t.mu.Unlock()
	go w.pump()
	return w
}

func (t *broadcastTracker) Create(gvr schema.GroupVersionResource, obj k8sruntime.Object, ns string, opts ...metav1.CreateOptions) error {
	return t.write(gvr, obj, ns, watch.Added, func() error { return t.ObjectTracker.Create(gvr, obj, ns, opts...) })
}

func (t *broadcastTracker) Update(gvr schema.GroupVersionResource, obj k8sruntime.Object, ns string, opts ...metav1.UpdateOptions) error {
	return t.write(gvr, obj, ns, watch.Modified, func() error { return t.ObjectTracker.Update(gvr, obj, ns, opts...) })
}

func (t *broadcastTracker) Patch(gvr schema.GroupVersionResource, obj k8sruntime.Object, ns string, opts ...metav1.PatchOptions) error {
	return t.write(gvr, obj, ns, watch.Modified, func() error { return t.ObjectTracker.Patch(gvr, obj, ns, opts...) })
}

func (t *broadcastTracker) Delete(gvr schema.GroupVersionResource, ns, name string, opts ...metav1.DeleteOptions) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	obj, err := t.ObjectTracker.Get(gvr, ns, name)
	if err != nil {
		return err
	}
	if err := t.ObjectTracker.Delete(gvr, ns, name, opts...); err != nil {
		return err
	}
	t.tell(gvr, ns, watch.Event{Type: watch.Deleted, Object: obj})
	return nil
}

// write does one write and tells the watchers what is stored after it.
func (t *broadcastTracker) write(gvr schema.GroupVersionResource, obj k8sruntime.Object, ns string, typ watch.EventType, do func() error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := do(); err != nil {
		return err
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	if ns == "" {
		ns = m.GetNamespace()
	}
	stored, err := t.ObjectTracker.Get(gvr, ns, m.GetName())
	if err != nil {
		return err
	}
	t.tell(gvr, ns, watch.Event{Type: typ, Object: stored})
	return nil
}

func (t *broadcastTracker) tell(gvr schema.GroupVersionResource, ns string, ev watch.Event) {
	for _, w := range t.watchers {
		if w.gvr == gvr && (w.ns == "" || w.ns == ns) {
			select {
			case w.in <- ev:
			case <-w.stop:
			}
		}
	}
}

func (w *queuedWatch) ResultChan() <-chan watch.Event { return w.out }

func (w *queuedWatch) Stop() { w.once.Do(func() { close(w.stop) }) }

// pump always takes what tell sends and hands it on in order.
func (w *queuedWatch) pump() {
	defer close(w.out)
	var queue []watch.Event
	for {
		var send chan watch.Event
		var next watch.Event
		if len(queue) > 0 {
			send, next = w.out, queue[0]
		}
		select {
		case ev := <-w.in:
			queue = append(queue, ev)
		case send <- next:
			queue = queue[1:]
		case <-w.stop:
			return
		}
	}
}

func (n *fakeNetwork) portsOf(uid string) []cni.PortMapping {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ports[uid]
}

// The fake runtime "mounts" an image volume as an empty folder.
func (f *fakeRuntime) MountImage(_ context.Context, ref, target string) error {
	return os.MkdirAll(target, 0o755)
}

func (f *fakeRuntime) UnmountImage(_ context.Context, target string) error {
	return os.RemoveAll(target)
}

func (f *fakeRuntime) ImageViews(context.Context) ([]string, error) { return nil, nil }
