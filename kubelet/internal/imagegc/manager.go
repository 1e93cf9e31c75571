package imagegc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/kinns/kinns/kubelet/runtime"
)

// Upstream's event reasons (k8s.io/kubernetes/pkg/kubelet/events).
const (
	ReasonFreeDiskSpaceFailed = "FreeDiskSpaceFailed"
	ReasonImageGCFailed       = "ImageGCFailed"
	ReasonInvalidDiskCapacity = "InvalidDiskCapacity"
)

// Store is the node's images in the runtime; the containerd runtime is one.
type Store interface {
	// StoredImages lists the images of the node's namespace.
	StoredImages(ctx context.Context) ([]runtime.StoredImage, error)
	// ContainerImages is the image name of every container of the node's
	// namespace, running or not.
	ContainerImages(ctx context.Context) ([]string, error)
	// RemoveImage removes one image by name; a missing one is success.
	RemoveImage(ctx context.Context, name string) error
}

// Config is one node's image GC.
type Config struct {
	Policy Policy
	// Period is the time between two checks.
	Period time.Duration
	// FS is a folder on the filesystem holding the images.
	FS string
	// Node is the Node the events are about.
	Node string
	Log  *slog.Logger
}

// Deps are the side effects; Statfs and Clock default to the real ones.
type Deps struct {
	Store  Store
	Events record.EventRecorder
	Statfs func(path string) (Disk, error)
	Clock  clock.WithTicker
}

// Manager runs image GC for one node. Collect and Run are not to be called
// concurrently.
type Manager struct {
	cfg  Config
	deps Deps
	node *v1.ObjectReference

	mu       sync.Mutex
	lastUsed map[string]time.Time // image name: last seen in use
	failed   bool                 // the previous pass failed
}

// New makes the manager; cfg.Log may be nil.
func New(cfg Config, d Deps) *Manager {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if d.Statfs == nil {
		d.Statfs = Statfs
	}
	if d.Clock == nil {
		d.Clock = clock.RealClock{}
	}
	// Upstream's node reference: the UID is the node's name.
	node := &v1.ObjectReference{Kind: "Node", Name: cfg.Node, UID: types.UID(cfg.Node)}
	return &Manager{cfg: cfg, deps: d, node: node, lastUsed: map[string]time.Time{}}
}

// Run collects every Period until ctx ends. A pass that fails twice in a
// row is an ImageGCFailed Warning on the Node, as upstream.
func (m *Manager) Run(ctx context.Context) {
	t := m.deps.Clock.NewTicker(m.cfg.Period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		m.pass(ctx)
	}
}

func (m *Manager) pass(ctx context.Context) {
	err := m.Collect(ctx)
	switch {
	case err == nil:
		m.failed = false
	case ctx.Err() != nil:
	case m.failed:
		m.cfg.Log.Error("image garbage collection failed again", "err", err)
		m.deps.Events.Event(m.node, v1.EventTypeWarning, ReasonImageGCFailed, err.Error())
	default:
		m.cfg.Log.Warn("image garbage collection failed", "err", err)
		m.failed = true
	}
}

// Collect is one pass: it notes which images are in use, and if the disk
// is over the high threshold removes what Decide says.
func (m *Manager) Collect(ctx context.Context) error {
	now := m.deps.Clock.Now()
	candidates, err := m.candidates(ctx, now)
	if err != nil {
		return err
	}
	disk, err := m.deps.Statfs(m.cfg.FS)
	if err != nil {
		return fmt.Errorf("measure the image filesystem at %s: %w", m.cfg.FS, err)
	}
	if disk.Capacity <= 0 {
		err := errors.New("invalid capacity 0 on image filesystem")
		m.deps.Events.Event(m.node, v1.EventTypeWarning, ReasonInvalidDiskCapacity, err.Error())
		return err
	}
	dec := Decide(m.cfg.Policy, disk, candidates, now)
	if !dec.Collect {
		return nil
	}
	m.cfg.Log.Info("disk usage on the image filesystem is over the high threshold; removing unused images",
		"usage", dec.Usage, "high", m.cfg.Policy.High, "low", m.cfg.Policy.Low, "toFree", dec.ToFree, "candidates", len(dec.Remove))
	freed, err := m.remove(ctx, dec.Remove)
	if err != nil {
		return fmt.Errorf("wanted to free %d bytes, but freed %d bytes with errors in image deletion: %w", dec.ToFree, freed, err)
	}
	if freed < dec.ToFree {
		msg := fmt.Sprintf("Insufficient free disk space on the node's image filesystem (%d%% of %s used). "+
			"Failed to free sufficient space by deleting unused images (freed %d bytes). "+
			"Investigate disk usage, as it could be used by active images, logs, volumes, or other data.",
			dec.Usage, formatSize(disk.Capacity), freed)
		m.deps.Events.Event(m.node, v1.EventTypeWarning, ReasonFreeDiskSpaceFailed, msg)
		return errors.New(msg)
	}
	return nil
}

// candidates lists the images with their use, and remembers when each was
// last seen in use; images gone from the runtime are forgotten.
func (m *Manager) candidates(ctx context.Context, now time.Time) ([]Candidate, error) {
	imgs, err := m.deps.Store.StoredImages(ctx)
	if err != nil {
		return nil, err
	}
	ctrs, err := m.deps.Store.ContainerImages(ctx)
	if err != nil {
		return nil, err
	}
	inUse := InUse(imgs, ctrs)
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[string]time.Time{}
	out := make([]Candidate, 0, len(imgs))
	for _, img := range imgs {
		last := m.lastUsed[img.Name]
		if inUse[img.Name] {
			last = now
		}
		if !last.IsZero() {
			seen[img.Name] = last
		}
		out = append(out, Candidate{StoredImage: img, InUse: inUse[img.Name], LastUsed: last})
	}
	m.lastUsed = seen
	return out, nil
}

func (m *Manager) remove(ctx context.Context, imgs []Candidate) (int64, error) {
	var freed int64
	var errs []error
	for _, c := range imgs {
		m.cfg.Log.Info("removing image to free bytes", "image", c.Name, "digest", c.Digest, "size", c.Size)
		if err := m.deps.Store.RemoveImage(ctx, c.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		freed += c.Size
	}
	return freed, errors.Join(errs...)
}

// Statfs measures the filesystem that holds path.
func Statfs(path string) (Disk, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return Disk{}, fmt.Errorf("statfs %s: %w", path, err)
	}
	bs := int64(st.Bsize)
	return Disk{Capacity: int64(st.Blocks) * bs, Available: int64(st.Bavail) * bs}, nil
}

// formatSize writes bytes in binary units, as upstream's events do.
func formatSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n)/unit, 0
	for f >= unit && i < 4 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", f, []string{"KiB", "MiB", "GiB", "TiB", "PiB"}[i])
}
