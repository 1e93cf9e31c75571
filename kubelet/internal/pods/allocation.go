package pods

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
)

// allocation is what the kubelet admitted for a pod: per container name
// (init and app containers), the requests and limits it runs the container
// with. A resize changes the pod's spec at once; the allocation follows only
// once the kubelet finds the new resources fit the node.
type allocation map[string]v1.ResourceRequirements

// allocationOf is the allocation a pod's spec asks for.
func allocationOf(pod *v1.Pod) allocation {
	a := allocation{}
	for _, c := range append(append([]v1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		a[c.Name] = *c.Resources.DeepCopy()
	}
	return a
}

func (a allocation) equal(b allocation) bool {
	return equality.Semantic.DeepEqual(map[string]v1.ResourceRequirements(a), map[string]v1.ResourceRequirements(b))
}

// withAllocation is the pod as the kubelet runs it: a copy whose containers
// have their allocated resources. The pod from the cache is not changed.
func withAllocation(pod *v1.Pod, a allocation) *v1.Pod {
	out := pod.DeepCopy()
	for _, list := range [][]v1.Container{out.Spec.InitContainers, out.Spec.Containers} {
		for i := range list {
			if r, ok := a[list[i].Name]; ok {
				list[i].Resources = *r.DeepCopy()
			}
		}
	}
	return out
}

// allocations keep each pod's allocation in memory and in the file
// <PodDir>/allocated.json, so a restarted kubelet runs and reports its pods
// with what it had admitted, not with a resize it has not admitted yet.
// Safe for concurrent use.
type allocations struct {
	dir func(types.UID) string

	mu   sync.Mutex
	pods map[types.UID]allocation
	// admit is held while a resize is checked against the node and
	// recorded, so two resizes cannot both take the last free resources.
	admit sync.Mutex
}

func newAllocations(dir func(types.UID) string) *allocations {
	return &allocations{dir: dir, pods: map[types.UID]allocation{}}
}

const allocationFile = "allocated.json"

// get returns the pod's allocation: from memory, else from its file.
func (s *allocations) get(uid types.UID) (allocation, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.pods[uid]; ok {
		return a, true, nil
	}
	b, err := os.ReadFile(filepath.Join(s.dir(uid), allocationFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read allocation of pod %s: %w", uid, err)
	}
	var a allocation
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, false, fmt.Errorf("parse allocation of pod %s: %w", uid, err)
	}
	s.pods[uid] = a
	return a, true, nil
}

// set records the pod's allocation, on disk first.
func (s *allocations) set(uid types.UID, a allocation) error {
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode allocation of pod %s: %w", uid, err)
	}
	dir := s.dir(uid)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save allocation of pod %s: %w", uid, err)
	}
	tmp := filepath.Join(dir, allocationFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("save allocation of pod %s: %w", uid, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, allocationFile)); err != nil {
		return fmt.Errorf("save allocation of pod %s: %w", uid, err)
	}
	s.mu.Lock()
	s.pods[uid] = a
	s.mu.Unlock()
	return nil
}

// forget drops the pod from memory; its file goes with the pod's folder.
func (s *allocations) forget(uid types.UID) {
	s.mu.Lock()
	delete(s.pods, uid)
	s.mu.Unlock()
}
