package pods

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kinns/kinns/cni"
	"github.com/kinns/kinns/cni/netns"
	"github.com/kinns/kinns/harness/containerd"
	"github.com/kinns/kinns/harness/images"
	"github.com/kinns/kinns/harness/proc"
	"github.com/kinns/kinns/kubelet/config"
	"github.com/kinns/kinns/kubelet/logs"
	"github.com/kinns/kinns/kubelet/runtime"
	kcontainerd "github.com/kinns/kinns/kubelet/runtime/containerd"
)

// rootEnv is one node on a private containerd: a throwaway node network
// namespace with its cni0 bridge, a containerd namespace holding the test
// image, a cgroup parent and state folders, all unique to the test and
// removed when it ends.
type rootEnv struct {
	prefix, address, runDir string
	nodeNetns               string
	cfg                     config.Config
	client                  *fake.Clientset
	http                    *http.Client
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func newRootEnv(t *testing.T) *rootEnv {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs containers in network namespaces")
	}
	if testing.Short() {
		t.Skip("starts a containerd")
	}
	for _, bin := range []string{"containerd", "runc"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed", bin)
		}
	}
	e := &rootEnv{prefix: "kt" + randomHex(3), client: fake.NewClientset()}
	createNode(t, e.client, "node-1")
	e.startDaemon(t)
	cgroupParent := "/" + e.prefix + "/node-1"
	t.Cleanup(func() { removeCgroups(t, "/"+e.prefix) })
	e.nodeNetns = e.prefix + "-node-1"
	e.makeNode(t)
	ns := e.prefix + "-node-1"
	ctx := context.Background()
	if err := containerd.CreateNamespace(ctx, e.address, ns, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := containerd.DeleteNamespace(context.Background(), e.address, ns); err != nil {
			t.Errorf("delete containerd namespace: %v", err)
		}
	})
	if _, err := images.Import(ctx, e.address, ns, testAppArchive(t)); err != nil {
		t.Fatal(err)
	}
	e.cfg = testConfig(t)
	e.cfg.ContainerdAddress, e.cfg.ContainerdNamespace = e.address, ns
	e.cfg.RuncRoot = filepath.Join(e.runDir, "runc")
	e.cfg.NodeNetns, e.cfg.CgroupParent = e.nodeNetns, cgroupParent
	e.cfg.StatusUpdateFrequency, e.cfg.LeaseRenewInterval, e.cfg.SyncInterval = time.Second, time.Second, 2*time.Second
	e.cfg.BackoffInitial, e.cfg.BackoffMax = time.Second, 4*time.Second
	e.http = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: netns.DialContext(netns.Path(e.nodeNetns)), DisableKeepAlives: true}}
	return e
}

func (e *rootEnv) startDaemon(t *testing.T) {
	e.runDir = "/run/kinns-test-" + randomHex(3)
	d := containerd.Daemon{Root: filepath.Join(t.TempDir(), "containerd"), RunDir: e.runDir}
	holder := "test-" + e.prefix
	self, err := proc.Self()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Release(context.Background(), holder); err != nil {
			t.Errorf("stop private containerd: %v", err)
		}
		os.RemoveAll(e.runDir)
	})
	if e.address, err = d.Acquire(context.Background(), holder, self); err != nil {
		t.Fatal(err)
	}
}

// makeNode makes the node namespace as harness/network does: lo and a cni0
// bridge with the gateway address, forwarding on. Pod namespaces the
// kubelet leaves behind (named after the node) are removed at the end.
func (e *rootEnv) makeNode(t *testing.T) {
	if err := netns.Create(e.nodeNetns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		names, _ := netns.List()
		for _, n := range names {
			if strings.HasPrefix(n, e.prefix+"-") {
				if err := netns.Delete(n); err != nil {
					t.Errorf("delete netns %s: %v", n, err)
				}
			}
		}
	})
	h, err := netns.Handle(netns.Path(e.nodeNetns))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	lo, _ := h.LinkByName("lo")
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "cni0"}}
	gw := netip.MustParsePrefix("10.244.1.1/24")
	err = errors.Join(h.LinkSetUp(lo), h.LinkAdd(br),
		h.AddrAdd(br, &netlink.Addr{IPNet: &net.IPNet{IP: gw.Addr().AsSlice(), Mask: net.CIDRMask(24, 32)}}),
		h.LinkSetUp(br), netns.Sysctl(netns.Path(e.nodeNetns), "net/ipv4/ip_forward", "1"))
	if err != nil {
		t.Fatal(err)
	}
}

// get fetches a URL from inside the node namespace.
func (e *rootEnv) get(url string) (string, error) {
	resp, err := e.http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b := make([]byte, 4096)
	n, _ := resp.Body.Read(b)
	return string(b[:n]), nil
}

// startKubelet runs a kubelet for the node until stop is called, or owner
// (the test that outlives it) ends.
func (e *rootEnv) startKubelet(t, owner *testing.T) (*Manager, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	k, closeRuntime, err := assemble(ctx, e.cfg, Deps{Client: e.client, Dial: netns.DialContext(netns.Path(e.nodeNetns))})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- k.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("kubelet: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("kubelet did not stop")
			}
			closeRuntime()
		})
	}
	owner.Cleanup(stop)
	return k, stop
}

var testApp struct {
	once    sync.Once
	dir     string
	archive string
	err     error
}

// testAppArchive builds kinns.local/testapp once per test binary.
func testAppArchive(t *testing.T) string {
	testApp.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		testApp.dir, testApp.err = os.MkdirTemp("", "kubelet-testapp-")
		if testApp.err != nil {
			return
		}
		bin := filepath.Join(testApp.dir, "testapp")
		if testApp.err = images.BuildTestApp(ctx, "../../..", bin); testApp.err != nil {
			return
		}
		testApp.archive, testApp.err = images.BuildArchive(ctx, bin, testApp.dir)
	})
	if testApp.err != nil {
		t.Fatal(testApp.err)
	}
	return testApp.archive
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testApp.dir != "" {
		os.RemoveAll(testApp.dir)
	}
	os.Exit(code)
}

// removeCgroups removes the test's cgroup tree, deepest first, in every
// hierarchy.
func removeCgroups(t *testing.T, rel string) {
	roots := []string{filepath.Join("/sys/fs/cgroup", rel)}
	if ents, err := os.ReadDir("/sys/fs/cgroup"); err == nil {
		for _, e := range ents {
			if e.IsDir() {
				roots = append(roots, filepath.Join("/sys/fs/cgroup", e.Name(), rel))
			}
		}
	}
	for _, root := range roots {
		if err := removeTree(root); err != nil {
			t.Errorf("remove cgroup: %v", err)
		}
	}
}

func removeTree(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() {
			if err := removeTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := syscall.Rmdir(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// assemble makes a manager on the real runtime and network, as the
// kubelet's Run does, and adopts the containers a previous one left. The
// returned func closes the runtime (containers keep running).
func assemble(ctx context.Context, cfg config.Config, d Deps) (*Manager, func(), error) {
	cfg.Default()
	var k *Manager
	rt, err := kcontainerd.New(kcontainerd.Config{
		Address: cfg.ContainerdAddress, Namespace: cfg.ContainerdNamespace, RuncRoot: cfg.RuncRoot,
		FIFODir: filepath.Join(cfg.StateDir, "fifo"),
		OpenLog: func(path string) (kcontainerd.LogSink, error) { return logs.Create(path) },
		OnExit:  func(c runtime.Container) { k.ContainerExited(c) },
		Log:     cfg.Log,
	})
	if err != nil {
		return nil, nil, err
	}
	net, err := cni.New(cni.Config{
		NodeNetns: cfg.NodeNetns, Bridge: cfg.Bridge, PodCIDR: netip.MustParsePrefix(cfg.PodCIDR),
		StateDir: filepath.Join(cfg.StateDir, "cni"), Log: cfg.Log,
	})
	if err != nil {
		rt.Close()
		return nil, nil, err
	}
	d.Runtime, d.Network = rt, net
	k = New(cfg, d)
	if _, err := rt.Recover(ctx); err != nil {
		rt.Close()
		return nil, nil, err
	}
	return k, func() { rt.Close() }, nil
}
