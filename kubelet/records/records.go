package records

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/moby/sys/mountinfo"

	"k8s.io/apimachinery/pkg/types"
)

// PodRef names the pod a record is of.
type PodRef struct {
	UID, Namespace, Name string
}

// Record is written before a pod's network namespace is made.
type Record struct {
	Pod PodRef `json:"pod"`
	// Netns is the namespace's name under /run/netns.
	Netns string `json:"netns"`
}

// PodDir is the pod's folder in the kubelet's state folder: its record,
// and the pod's files (hosts, resolv.conf, volumes). Removing it removes
// the record.
func PodDir(stateDir string, uid types.UID) string {
	return filepath.Join(stateDir, "pods", string(uid))
}

// Write records r in the folder of r.Pod, replacing the file at once (a
// reader never sees half a record).
func Write(stateDir string, r Record) error {
	dir := PodDir(stateDir, types.UID(r.Pod.UID))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create pod folder: %w", err)
	}
	b, _ := json.Marshal(r)
	path := filepath.Join(dir, "sandbox.json")
	if err := os.WriteFile(path+".tmp", b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// All lists the records of the kubelet with this state folder: the pods
// whose namespace it made (or was about to) and has not cleaned up yet.
// Unreadable records are left out.
func All(stateDir string) []Record {
	ents, _ := os.ReadDir(filepath.Join(stateDir, "pods"))
	var out []Record
	for _, e := range ents {
		if r, ok := read(stateDir, types.UID(e.Name())); ok && r.Pod.UID == e.Name() {
			out = append(out, r)
		}
	}
	return out
}

// NetnsOf is the network namespace (a name under /run/netns) the kubelet
// with this state folder made for the pod, as its record says; false if it
// has none (not made yet, or removed).
func NetnsOf(stateDir string, uid types.UID) (string, bool) {
	r, ok := read(stateDir, uid)
	if !ok || r.Netns == "" {
		return "", false
	}
	return r.Netns, true
}

// Netns lists the pod network namespaces (names under /run/netns) that the
// kubelet with this state folder made and has not removed yet: what a
// lab's teardown must delete after the kubelet was killed.
func Netns(stateDir string) []string {
	var out []string
	for _, r := range All(stateDir) {
		out = append(out, r.Netns)
	}
	return out
}

func read(stateDir string, uid types.UID) (Record, bool) {
	var r Record
	b, err := os.ReadFile(filepath.Join(PodDir(stateDir, uid), "sandbox.json"))
	if err != nil || json.Unmarshal(b, &r) != nil {
		return Record{}, false
	}
	return r, true
}

// Mounts lists the folders of pod volumes that the kubelet with this state
// folder mounted on the host (the tmpfs of memory emptyDirs,
// <pod>/volumes/empty-dir/<volume>, and image volumes,
// <pod>/volumes/image/<volume>) and has not unmounted yet: what a lab's
// teardown must unmount after the kubelet was killed, before it removes
// the state folder.
func Mounts(stateDir string) []string {
	dirs, _ := filepath.Glob(filepath.Join(stateDir, "pods", "*", "volumes", "empty-dir", "*"))
	images, _ := filepath.Glob(filepath.Join(stateDir, "pods", "*", "volumes", "image", "*"))
	dirs = append(dirs, images...)
	var out []string
	for _, d := range dirs {
		if mounted, err := mountinfo.Mounted(d); err == nil && mounted {
			out = append(out, d)
		}
	}
	return out
}
