package containerd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	ctrd "github.com/containerd/containerd/v2/client"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kinns/kinns/kubelet/runtime"
)

// Update applies new cgroup limits to a running run (runc update through
// the task), then records them in the run's LabelResources. A limit of zero
// removes it (unlimited), as at start.
func (c *Containerd) Update(ctx context.Context, id string, r runtime.Resources) error {
	ctx = c.nsCtx(ctx)
	ctr, err := c.client.LoadContainer(ctx, id)
	if err != nil {
		return notFound(err, id)
	}
	task, err := ctr.Task(ctx, nil)
	if err != nil {
		return notFound(err, id)
	}
	if err := task.Update(ctx, ctrd.WithResources(linuxResources(r))); err != nil {
		return fmt.Errorf("update resources of %s to %s: %w", id, r, err)
	}
	if _, err := ctr.SetLabels(ctx, map[string]string{runtime.LabelResources: r.String()}); err != nil {
		return fmt.Errorf("record resources of %s: %w", id, err)
	}
	return nil
}

// linuxResources are r as runc applies them on update: every field set, so
// that a limit that goes away is lifted (-1), not left as it was.
func linuxResources(r runtime.Resources) *specs.LinuxResources {
	shares, period := max(r.CPUShares, 2), r.CPUPeriod
	if period == 0 {
		period = 100000
	}
	quota, mem := int64(-1), int64(-1)
	if r.CPUQuota > 0 {
		quota = r.CPUQuota
	}
	if r.MemoryLimit > 0 {
		mem = r.MemoryLimit
	}
	return &specs.LinuxResources{
		CPU:    &specs.LinuxCPU{Shares: &shares, Quota: &quota, Period: &period},
		Memory: &specs.LinuxMemory{Limit: &mem},
	}
}

// MemoryUsage reads the run's cgroup memory usage (memory.current on v2,
// memory.usage_in_bytes on v1).
func (c *Containerd) MemoryUsage(ctx context.Context, id string) (int64, error) {
	ctx = c.nsCtx(ctx)
	ctr, err := c.client.LoadContainer(ctx, id)
	if err != nil {
		return 0, notFound(err, id)
	}
	labels, err := ctr.Labels(ctx)
	if err != nil {
		return 0, notFound(err, id)
	}
	rel := labels[runtime.LabelCgroup]
	if rel == "" {
		return 0, fmt.Errorf("container %s has no cgroup recorded", id)
	}
	return detectCgroups().memoryUsage(rel)
}

func (cg cgroups) memoryUsage(rel string) (int64, error) {
	file := filepath.Join(cg.root, "memory", rel, "memory.usage_in_bytes")
	if cg.v2 {
		file = filepath.Join(cg.root, rel, "memory.current")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, fmt.Errorf("read memory usage: %w", err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", file, err)
	}
	return n, nil
}
