package images

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/api/types/runc/options"
	ctrd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/kinns/kinns/harness/containerd"
	"github.com/kinns/kinns/harness/proc"
)

func randomSuffix(t *testing.T) string {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// privateDaemon starts a containerd of the test's own, never the lab's, and
// stops it and removes its folders when the test ends.
func privateDaemon(t *testing.T) (address string, runDir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("importing into containerd needs root")
	}
	for _, bin := range []string{"containerd", "runc"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed", bin)
		}
	}
	root := filepath.Join(t.TempDir(), "containerd")
	runDir = "/run/kinns-test-" + randomSuffix(t)
	d := containerd.Daemon{Root: root, RunDir: runDir}
	holder := "test-" + strings.ReplaceAll(t.Name(), "/", "-")
	self, err := proc.Self()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Release(context.Background(), holder); err != nil {
			t.Errorf("stop private containerd: %v", err)
		}
		// A mount left behind would make RemoveAll reach into it.
		for _, dir := range []string{runDir, root} {
			if m := mountsUnder(t, dir); len(m) > 0 {
				t.Errorf("mounts left under %s: %v", dir, m)
				return
			}
		}
		os.RemoveAll(runDir)
	})
	start := time.Now()
	address, err = d.Acquire(context.Background(), holder, self)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("private containerd serving on %s after %s", address, time.Since(start).Round(time.Millisecond))
	return address, runDir
}

func mountsUnder(t *testing.T, dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var found []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && (fields[4] == dir || strings.HasPrefix(fields[4], dir+"/")) {
			found = append(found, fields[4])
		}
	}
	return found
}

func TestImportUnpacksAndRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a containerd")
	}
	address, runDir := privateDaemon(t)
	ns := "kinns-test-images-" + randomSuffix(t)
	t.Cleanup(func() {
		if err := containerd.DeleteNamespace(context.Background(), address, ns); err != nil {
			t.Errorf("delete namespace %s: %v", ns, err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	archive, err := BuildArchive(ctx, realTestApp(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	imgName, err := Import(ctx, address, ns, archive)
	if err != nil {
		t.Fatal(err)
	}
	first := time.Since(start)
	start = time.Now()
	if again, err := Import(ctx, address, ns, archive); err != nil || again != imgName {
		t.Fatalf("second import: %q, %v", again, err)
	}
	t.Logf("import+unpack %s, again %s", first.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if imgName != TestAppImage {
		t.Fatalf("imported as %q, want %q", imgName, TestAppImage)
	}

	c, err := containerd.Connect(address)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	nctx := namespaces.WithNamespace(ctx, ns)
	img, err := c.GetImage(nctx, TestAppImage)
	if err != nil {
		t.Fatalf("image %s not in namespace %s: %v", TestAppImage, ns, err)
	}
	if ok, err := img.IsUnpacked(nctx, Snapshotter); err != nil || !ok {
		t.Fatalf("image not unpacked for %s: %v, %v", Snapshotter, ok, err)
	}

	start = time.Now()
	out, code := runOnce(t, nctx, c, img, runDir, "/testapp", "help")
	t.Logf("container create+start+exit+delete %s", time.Since(start).Round(time.Millisecond))
	// containerd 1.6's shim may report the exit of a process this short before
	// its output reaches the fifo, so the output is checked only when it came.
	if code != 0 || (out != "" && !strings.Contains(out, "testapp get")) {
		t.Fatalf("/testapp help in a container: status %d, output %q", code, out)
	}

	if err := c.ImageService().Delete(nctx, TestAppImage, images.SynchronousDelete()); err != nil {
		t.Fatalf("delete image: %v", err)
	}
	if err := containerd.DeleteNamespace(ctx, address, ns); err != nil {
		t.Fatalf("delete namespace: %v", err)
	}
	left, err := c.NamespaceService().List(ctx)
	if err != nil || contains(left, ns) {
		t.Fatalf("namespace %s still there (%v), %v", ns, left, err)
	}
}

// runOnce runs argv in a container of img with runc, waits for it, deletes it
// and its snapshot, and returns its output and exit status.
func runOnce(t *testing.T, ctx context.Context, c *ctrd.Client, img ctrd.Image, runDir string, argv ...string) (string, uint32) {
	t.Helper()
	id := "testapp-" + randomSuffix(t)
	cgroup := "/kinns-test-" + id
	ctr, err := c.NewContainer(ctx, id,
		ctrd.WithImage(img),
		ctrd.WithNewSnapshot(id, img),
		// runc keeps its state in the test's folder, not in /run/containerd.
		ctrd.WithRuntime("io.containerd.runc.v2", &options.Options{Root: filepath.Join(runDir, "runc")}),
		ctrd.WithNewSpec(oci.WithImageConfig(img), oci.WithProcessArgs(argv...), oci.WithCgroup(cgroup)),
	)
	if err != nil {
		t.Fatalf("create container: %v", err)
	}
	defer func() {
		if err := ctr.Delete(ctx, ctrd.WithSnapshotCleanup); err != nil {
			t.Errorf("delete container: %v", err)
		}
		removeCgroup(t, cgroup)
	}()
	// One buffer for both streams, which containerd copies from two
	// goroutines: it must take one write at a time.
	var out lockedBuffer
	task, err := ctr.NewTask(ctx, cio.NewCreator(cio.WithStreams(nil, &out, &out), cio.WithFIFODir(filepath.Join(runDir, "fifo"))))
	if err != nil {
		t.Fatalf("create task: %v", err)
	}
	exited, err := task.Wait(ctx)
	if err != nil {
		t.Fatalf("wait task: %v", err)
	}
	if err := task.Start(ctx); err != nil {
		task.Delete(ctx, ctrd.WithProcessKill)
		t.Fatalf("start task: %v", err)
	}
	var st ctrd.ExitStatus
	select {
	case st = <-exited:
	case <-time.After(30 * time.Second):
		task.Kill(ctx, syscall.SIGKILL)
		st = <-exited
	}
	// Let the output be copied out before Delete: for a process this short,
	// Delete may otherwise cancel the copy while its fifos are still opening.
	task.IO().Wait()
	if _, err := task.Delete(ctx); err != nil {
		t.Errorf("delete task: %v", err)
	}
	return out.String(), st.ExitCode()
}

// removeCgroup removes what runc may leave of the container's cgroup; the path
// is unique to this test.
func removeCgroup(t *testing.T, cgroup string) {
	for _, base := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		subsystems, _ := os.ReadDir(base)
		for _, s := range subsystems {
			p := filepath.Join(base, s.Name(), cgroup)
			if err := syscall.Rmdir(p); err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
				t.Logf("remove cgroup %s: %v", p, err)
			}
		}
		if err := syscall.Rmdir(filepath.Join(base, cgroup)); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Logf("remove cgroup %s: %v", filepath.Join(base, cgroup), err)
		}
	}
}

func TestImportArchiveOfDockerSave(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a containerd")
	}
	address, _ := privateDaemon(t)
	ns := "kinns-test-load-" + randomSuffix(t)
	t.Cleanup(func() {
		if err := containerd.DeleteNamespace(context.Background(), address, ns); err != nil {
			t.Errorf("delete namespace %s: %v", ns, err)
		}
	})
	bin, err := os.ReadFile(realTestApp(t))
	if err != nil {
		t.Fatal(err)
	}
	img, err := testAppImage(bin)
	if err != nil {
		t.Fatal(err)
	}
	// The format of `docker save` before Docker 25: manifest.json only.
	archive := filepath.Join(t.TempDir(), "saved.tar")
	if err := tarball.MultiRefWriteToFile(archive, map[name.Reference]v1.Image{
		name.MustParseReference("userapp:v1"):           img,
		name.MustParseReference("registry.example/a:b"): img,
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	names, err := ImportArchive(ctx, address, ns, archive)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"docker.io/library/userapp:v1", "registry.example/a:b"}
	if !sameSet(names, want) {
		t.Fatalf("imported %q, want %q", names, want)
	}
	if _, err := Import(ctx, address, ns, archive); err == nil {
		t.Fatal("Import accepted an archive of two images")
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range b {
		if !contains(a, x) {
			return false
		}
	}
	return true
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
