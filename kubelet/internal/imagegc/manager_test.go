package imagegc

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/kinns/kinns/kubelet/runtime"
)

type fakeStore struct {
	mu      sync.Mutex
	images  []runtime.StoredImage
	ctrs    []string
	removed []string
	fail    map[string]bool
}

func (f *fakeStore) StoredImages(context.Context) ([]runtime.StoredImage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.images), nil
}

func (f *fakeStore) ContainerImages(context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.ctrs), nil
}

func (f *fakeStore) RemoveImage(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail[name] {
		return errors.New("read-only file system")
	}
	f.removed = append(f.removed, name)
	f.images = slices.DeleteFunc(f.images, func(i runtime.StoredImage) bool { return i.Name == name })
	return nil
}

func newManager(store *fakeStore, disk Disk, clk *clocktesting.FakeClock) (*Manager, *record.FakeRecorder) {
	rec := record.NewFakeRecorder(10)
	m := New(Config{Policy: Policy{High: 85, Low: 80, MinAge: 2 * time.Minute}, Period: time.Minute, FS: "/x", Node: "node-1"},
		Deps{Store: store, Events: rec, Clock: clk, Statfs: func(string) (Disk, error) { return disk, nil }})
	return m, rec
}

func TestCollectKeepsWhatContainersUse(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	store := &fakeStore{
		images: []runtime.StoredImage{
			{Name: "app:1", Digest: "sha256:1", Size: 10, Created: t0.Add(-time.Hour)},
			{Name: "old:1", Digest: "sha256:2", Size: 10, Created: t0.Add(-time.Hour)},
		},
		ctrs: []string{"app:1"},
	}
	m, rec := newManager(store, Disk{Capacity: 100, Available: 10}, clk) // 90 %: free 10
	if err := m.Collect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(store.removed, []string{"old:1"}) {
		t.Fatalf("removed %v", store.removed)
	}
	if len(rec.Events) != 0 {
		t.Errorf("event %s on success", <-rec.Events)
	}
}

// An image whose containers went is ranked by when it was last seen in use,
// not by its creation.
func TestLastUseIsRemembered(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	store := &fakeStore{
		images: []runtime.StoredImage{
			{Name: "was-used", Size: 10, Created: t0.Add(-3 * time.Hour), Digest: "sha256:1"},
			{Name: "never-used", Size: 10, Created: t0.Add(-2 * time.Hour), Digest: "sha256:2"},
		},
		ctrs: []string{"was-used"},
	}
	m, _ := newManager(store, Disk{Capacity: 100, Available: 50}, clk) // under the threshold: only notes use
	if err := m.Collect(context.Background()); err != nil {
		t.Fatal(err)
	}
	store.ctrs = nil
	clk.Step(time.Hour)
	m.deps.Statfs = func(string) (Disk, error) { return Disk{Capacity: 100, Available: 10}, nil }
	if err := m.Collect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(store.removed, []string{"never-used"}) {
		t.Fatalf("removed %v, want the never used one first", store.removed)
	}
}

func TestNotEnoughFreedIsAWarningThenImageGCFailed(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	store := &fakeStore{ctrs: []string{"app:1"}, images: []runtime.StoredImage{{Name: "app:1", Size: 10, Created: t0.Add(-time.Hour)}}}
	m, rec := newManager(store, Disk{Capacity: 100 << 30, Available: 1 << 30}, clk)
	m.pass(context.Background())
	ev := <-rec.Events
	if !strings.HasPrefix(ev, "Warning FreeDiskSpaceFailed Insufficient free disk space on the node's image filesystem (99% of 100.0 GiB used)") {
		t.Fatalf("event %q", ev)
	}
	if len(store.removed) != 0 {
		t.Fatalf("removed %v, an image in use", store.removed)
	}
	m.pass(context.Background())
	<-rec.Events // FreeDiskSpaceFailed again
	if ev := <-rec.Events; !strings.HasPrefix(ev, "Warning ImageGCFailed Insufficient free disk space") {
		t.Fatalf("second failure: %q", ev)
	}
}

func TestRemovalErrorsAreReported(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	store := &fakeStore{fail: map[string]bool{"a": true}, images: []runtime.StoredImage{
		{Name: "a", Size: 10, Created: t0.Add(-time.Hour), Digest: "sha256:a"},
		{Name: "b", Size: 10, Created: t0.Add(-time.Hour), Digest: "sha256:b"},
	}}
	m, _ := newManager(store, Disk{Capacity: 100, Available: 0}, clk)
	err := m.Collect(context.Background())
	if err == nil || !strings.Contains(err.Error(), "read-only file system") {
		t.Fatalf("err %v", err)
	}
	if !slices.Equal(store.removed, []string{"b"}) {
		t.Errorf("removed %v: a failed removal must not stop the others", store.removed)
	}
}

func TestStatfsOfARealFolder(t *testing.T) {
	d, err := Statfs(t.TempDir())
	if err != nil || d.Capacity <= 0 || d.Available > d.Capacity {
		t.Fatalf("%+v, %v", d, err)
	}
	if _, err := Statfs("/no/such/folder"); err == nil {
		t.Error("statfs of nothing worked")
	}
}
