package kubelet

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/kubernetes/third_party/forked/golang/expansion"

	"github.com/kinns/kinns/kubelet/runtime"
)

// containerSpec turns a pod's container into what the runtime runs.
func (k *Kubelet) containerSpec(ctx context.Context, pod *v1.Pod, c *v1.Container, a action, img runtime.Image, sb *sandbox) (runtime.Spec, error) {
	env, err := containerEnv(ctx, apiEnvSource{k}, pod, c, sb.IP, k.cfg.NodeIP)
	if err != nil {
		return runtime.Spec{}, err
	}
	mounts, err := k.volumeMounts(ctx, pod, c)
	if err != nil {
		return runtime.Spec{}, err
	}
	ref := podRefOf(pod)
	hostname := podHostname(pod)
	if pod.Spec.HostNetwork {
		hostname = k.cfg.NodeName
	}
	s := runtime.Spec{
		Pod: ref, Name: c.Name, Init: a.init, Attempt: a.attempt, Image: img,
		Command:    expandAll(c.Command, env),
		Args:       expandAll(c.Args, env),
		Env:        env,
		WorkingDir: c.WorkingDir,
		Hostname:   hostname,
		NetnsPath:  sb.NetnsPath,
		Resources:  resources(c),
		Mounts:     append(podFileMounts(sb), mounts...),
		LogPath:    k.logPath(ref, c.Name, a.attempt),
	}
	s.CgroupPath = k.podCgroup(pod.UID) + "/" + s.ID()
	return s, nil
}

// expandAll expands $(VAR) in command and args against the container's env.
func expandAll(in []string, env []string) []string {
	if len(in) == 0 {
		return nil
	}
	vals := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vals[k] = v
	}
	mapping := expansion.MappingFuncFor(vals)
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = expansion.Expand(s, mapping)
	}
	return out
}

// resources maps limits and requests to cgroup settings as the kubelet
// does: the CPU limit is a CFS quota per 100ms period (at least 1ms), the
// CPU request weighs the shares (2 with none), the memory limit is a hard
// limit.
func resources(c *v1.Container) runtime.Resources {
	var r runtime.Resources
	if q, ok := c.Resources.Limits[v1.ResourceCPU]; ok && !q.IsZero() {
		r.CPUPeriod = 100000
		r.CPUQuota = max(q.MilliValue()*100, 1000)
	}
	r.CPUShares = 2
	if q, ok := c.Resources.Requests[v1.ResourceCPU]; ok && !q.IsZero() {
		r.CPUShares = uint64(max(q.MilliValue()*1024/1000, 2))
	}
	if q, ok := c.Resources.Limits[v1.ResourceMemory]; ok && !q.IsZero() {
		r.MemoryLimit = q.Value()
	}
	return r
}

// logPath is <LogDir>/<ns>_<pod>_<uid>/<container>/<restartCount>.log.
func (k *Kubelet) logPath(ref runtime.PodRef, container string, attempt int) string {
	return filepath.Join(k.podLogDir(ref), container, strconv.Itoa(attempt)+".log")
}

func (k *Kubelet) event(pod *v1.Pod, kind, reason, format string, args ...any) {
	if k.events != nil && pod != nil {
		k.events.Event(pod, kind, reason, fmt.Sprintf(format, args...))
	}
}
