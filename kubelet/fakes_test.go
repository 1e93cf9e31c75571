package kubelet

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"sync"
	"time"

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

func (f *fakeRuntime) Start(_ context.Context, s runtime.Spec) (runtime.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := runtime.Container{
		ID: s.ID(), Pod: s.Pod, Name: s.Name, Init: s.Init, Attempt: s.Attempt,
		Image: s.Image.Ref, ImageID: s.Image.ID, State: runtime.StateRunning,
		StartedAt: time.Now(), LogPath: s.LogPath,
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
func (f *fakeRuntime) RemoveCgroup(string) error                               { return nil }

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
	mu   sync.Mutex
	ips  map[string]netip.Addr
	next byte
	dels []string
}

func newFakeNetwork() *fakeNetwork { return &fakeNetwork{ips: map[string]netip.Addr{}, next: 2} }

func (n *fakeNetwork) Add(_ context.Context, pod cni.PodRef, ns string) (cni.Result, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
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
	return nil
}

func (n *fakeNetwork) Status(context.Context) error { return nil }

func (n *fakeNetwork) has(uid string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.ips[uid]
	return ok
}
