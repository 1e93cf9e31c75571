package state

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kinns/kinns/harness/proc"
)

// DefaultRoot holds every lab's state folder under labs/, and host-wide state (the
// shared containerd) beside it.
const DefaultRoot = "/var/lib/kinns"

// Kind is what sort of thing a resource is; it decides how and when it is removed.
type Kind string

const (
	KindProcess             Kind = "process"
	KindContainerdHolder    Kind = "containerd-holder"
	KindContainerdNamespace Kind = "containerd-namespace"
	KindCgroup              Kind = "cgroup"
	KindLink                Kind = "link"
	KindNetns               Kind = "netns"
	KindMount               Kind = "mount"
	KindFile                Kind = "file"
	// KindJournal is another journal, kept by a component (a kubelet records the
	// pod namespaces it makes there); what it names is torn down with the lab.
	KindJournal Kind = "journal"
)

// teardownRank orders kinds for removal: what uses a thing goes before the thing.
var teardownRank = map[Kind]int{
	KindProcess:             0,
	KindContainerdNamespace: 1,
	KindContainerdHolder:    2,
	KindCgroup:              2,
	KindLink:                3,
	KindNetns:               4,
	KindMount:               5,
	KindFile:                6,
	KindJournal:             7,
}

// Resource is one thing the lab made.
type Resource struct {
	Kind Kind   `json:"kind"`
	Name string `json:"name"`
	// Netns is where a link lives.
	Netns string `json:"netns,omitempty"`
	// Process is set for KindProcess.
	Process proc.ID `json:"process,omitzero"`
	// Address is the containerd socket for containerd kinds.
	Address string `json:"address,omitempty"`
}

func (r Resource) String() string {
	switch {
	case r.Kind == KindProcess:
		return fmt.Sprintf("%s %s (pid %d)", r.Kind, r.Name, r.Process.PID)
	case r.Netns != "":
		return fmt.Sprintf("%s %s in %s", r.Kind, r.Name, r.Netns)
	}
	return fmt.Sprintf("%s %s", r.Kind, r.Name)
}

// Meta describes the lab as a whole.
type Meta struct {
	Name              string    `json:"name"`
	Nodes             int       `json:"nodes"`
	APIServers        int       `json:"apiServers,omitempty"`
	Timing            string    `json:"timing"`
	ContainerdAddress string    `json:"containerdAddress"`
	Created           time.Time `json:"created"`
	// Supervisor is the process that keeps the lab running (the background `lab`
	// process, or a test binary).
	Supervisor proc.ID `json:"supervisor,omitzero"`
	// APIPort is the port of the API server's forwarder on 127.0.0.1.
	APIPort int `json:"apiPort,omitempty"`
	// Ready is set once bring-up finished.
	Ready bool `json:"ready"`
	// Broken lists the faults in force, oldest first (`lab status`).
	Broken []Broken `json:"broken,omitempty"`
}

// Fault is one thing to break or mend, as `lab fault TARGET ACTION ARGS…`
// says it.
type Fault struct {
	Target string   `json:"target"`
	Action string   `json:"action"`
	Args   []string `json:"args,omitempty"`
}

func (f Fault) String() string {
	return strings.Join(append([]string{f.Target, f.Action}, f.Args...), " ")
}

// Broken is a fault in force and the fault that mends it.
type Broken struct {
	Fault Fault     `json:"fault"`
	Heal  Fault     `json:"heal"`
	Since time.Time `json:"since"`
}

// ErrExists means a state folder for that lab name is already there.
var ErrExists = errors.New("lab state already exists")

// ErrNotFound means there is no state folder for that lab name.
var ErrNotFound = errors.New("no such lab")

// Store is one lab's state folder. It is safe for concurrent use.
type Store struct {
	dir string
	mu  sync.Mutex
}

const (
	metaFile    = "lab.json"
	journalFile = "resources.jsonl"
)

// LabsDir is where every lab's folder is.
func LabsDir(root string) string { return filepath.Join(root, "labs") }

// Dir is the folder of lab name.
func Dir(root, name string) string { return filepath.Join(LabsDir(root), name) }

// Create makes the state folder of a new lab. It fails with ErrExists if one is there.
func Create(root, name string, m Meta) (*Store, error) {
	if err := os.MkdirAll(LabsDir(root), 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", LabsDir(root), err)
	}
	dir := Dir(root, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("%w: %s", ErrExists, dir)
		}
		return nil, fmt.Errorf("create state folder %s: %w", dir, err)
	}
	s := &Store{dir: dir}
	m.Name = name
	if err := s.SaveMeta(m); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// Open opens the state folder of an existing lab.
func Open(root, name string) (*Store, error) {
	dir := Dir(root, name)
	if _, err := os.Stat(dir); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %q (no state in %s)", ErrNotFound, name, dir)
		}
		return nil, fmt.Errorf("open state of lab %q: %w", name, err)
	}
	return &Store{dir: dir}, nil
}

// List returns the names of every lab with a state folder under root.
func List(root string) ([]string, error) {
	ents, err := os.ReadDir(LabsDir(root))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list labs: %w", err)
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// Dir is the folder itself; logs of the lab's processes go here too.
func (s *Store) Dir() string { return s.dir }

// Path is a file inside the folder.
func (s *Store) Path(name string) string { return filepath.Join(s.dir, name) }

// Meta reads lab.json.
func (s *Store) Meta() (Meta, error) {
	var m Meta
	b, err := os.ReadFile(s.Path(metaFile))
	if err != nil {
		return m, fmt.Errorf("read lab metadata: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("parse %s: %w", s.Path(metaFile), err)
	}
	return m, nil
}

// SaveMeta replaces lab.json atomically.
func (s *Store) SaveMeta(m Meta) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(s.Path(metaFile), b)
}

// UpdateMeta reads, changes and saves lab.json.
func (s *Store) UpdateMeta(change func(*Meta)) error {
	m, err := s.Meta()
	if err != nil {
		return err
	}
	change(&m)
	return s.SaveMeta(m)
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}

// Record appends r to the journal and syncs it to disk. Call it before making r.
func (s *Store) Record(r Resource) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Append(s.Path(journalFile), r)
}

// Resources reads the journal in the order things were recorded, with the
// entries of every nested journal (KindJournal) after the record that names it.
// A torn last line (the writer died mid-write) is skipped: that resource was
// never made.
func (s *Store) Resources() ([]Resource, error) {
	return readJournal(s.Path(journalFile), 0)
}

func readJournal(path string, depth int) ([]Resource, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	defer f.Close()
	var rs []Resource
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r Resource
		if json.Unmarshal(sc.Bytes(), &r) != nil || r.Kind == "" {
			continue
		}
		rs = append(rs, r)
		if r.Kind == KindJournal && depth < 3 {
			nested, err := readJournal(r.Name, depth+1)
			if err != nil {
				return nil, err
			}
			rs = append(rs, nested...)
		}
	}
	return rs, sc.Err()
}

// Append records r in the journal file at path (a component's own journal). It
// is safe against other appenders: each record is one small O_APPEND write.
func Append(path string, r Resource) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open journal %s: %w", path, err)
	}
	defer f.Close()
	if _, err := f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("record %s: %w", r, err)
	}
	return f.Sync()
}

// Remove deletes the whole state folder. Call it once every resource is gone.
func (s *Store) Remove() error {
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("remove state folder %s: %w", s.dir, err)
	}
	return nil
}

// TeardownStages groups TeardownOrder into stages: every resource of a stage may be
// removed at the same time, and a stage starts only when the one before is done.
func TeardownStages(rs []Resource) [][]Resource {
	var stages [][]Resource
	last := -1
	for _, r := range TeardownOrder(rs) {
		if rank := teardownRank[r.Kind]; rank != last || len(stages) == 0 {
			stages = append(stages, nil)
			last = rank
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], r)
	}
	return stages
}

// TeardownOrder returns the resources in the order to remove them: by kind (what
// uses a thing before the thing), and within a kind newest first. Duplicates (a
// resource recorded twice, e.g. by a retried step) appear once.
func TeardownOrder(rs []Resource) []Resource {
	type item struct {
		r   Resource
		seq int
	}
	seen := map[Resource]bool{}
	var items []item
	for i, r := range rs {
		if seen[r] {
			continue
		}
		seen[r] = true
		items = append(items, item{r, i})
	}
	sort.SliceStable(items, func(a, b int) bool {
		ra, rb := teardownRank[items[a].r.Kind], teardownRank[items[b].r.Kind]
		if ra != rb {
			return ra < rb
		}
		return items[a].seq > items[b].seq
	})
	out := make([]Resource, len(items))
	for i, it := range items {
		out[i] = it.r
	}
	return out
}
