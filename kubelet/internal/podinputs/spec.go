package podinputs

import (
	"context"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/kubernetes/third_party/forked/golang/expansion"

	"github.com/kinns/kinns/kubelet/runtime"
)

// Run is one attempt of one of a pod's containers.
type Run struct {
	Container *v1.Container
	// Init: Container is one of the pod's init containers.
	Init bool
	// Ephemeral: Container is one of the pod's ephemeral containers (as
	// upstream, its EphemeralContainerCommon seen as a Container).
	Ephemeral bool
	// Attempt is the run's restart count.
	Attempt int
	Image   runtime.Image
	// VolumeImages are the images of the pod's image volumes that the
	// container mounts, by volume name, pulled by their pull policies.
	VolumeImages map[string]runtime.Image
}

// ContainerSpec turns a run of a pod's container into what the runtime
// runs: command and args with $(VAR) expanded, its environment, its volumes
// made ready and mounted beside the pod's files and its termination log,
// resources, hostname, the
// sandbox's network namespace, its log file and cgroup, its stdin and
// terminal (for kubectl attach), and its security context. An error (a ConfigMap or Secret that cannot be read, a root
// user under runAsNonRoot, say) is the container's
// CreateContainerConfigError.
func (in *Inputs) ContainerSpec(ctx context.Context, pod *v1.Pod, sb Sandbox, r Run) (runtime.Spec, error) {
	c := r.Container
	sec, err := containerSecurity(pod, c, r.Image.User, in.SeccompDir())
	if err != nil {
		return runtime.Spec{}, err
	}
	env, err := containerEnv(ctx, apiEnvSource{in}, pod, c, sb.IP, in.cfg.NodeIP)
	if err != nil {
		return runtime.Spec{}, err
	}
	c, err = withSubPaths(c, env)
	if err != nil {
		return runtime.Spec{}, err
	}
	mounts, err := in.volumeMounts(ctx, pod, c, r.VolumeImages)
	if err != nil {
		return runtime.Spec{}, err
	}
	if c.TerminationMessagePath != "" {
		m, err := in.terminationLogMount(pod.UID, c.Name, r.Attempt, c.TerminationMessagePath)
		if err != nil {
			return runtime.Spec{}, err
		}
		mounts = append(mounts, m)
	}
	ref := runtime.PodRef{UID: string(pod.UID), Namespace: pod.Namespace, Name: pod.Name}
	hostname := podHostname(pod)
	if pod.Spec.HostNetwork {
		hostname = in.cfg.NodeName
	}
	s := runtime.Spec{
		Pod: ref, Name: c.Name, Init: r.Init, Ephemeral: r.Ephemeral, Attempt: r.Attempt, Image: r.Image,
		Command:    expandAll(c.Command, env),
		Args:       expandAll(c.Args, env),
		Env:        env,
		WorkingDir: c.WorkingDir,
		Hostname:   hostname,
		NetnsPath:  sb.NetnsPath,
		Resources:  Resources(c),
		Mounts:     append(podFileMounts(sb, c), mounts...),
		Security:   sec,
		LogPath:    in.LogPath(ref, c.Name, r.Attempt),
		Stdin:      c.Stdin, StdinOnce: c.Stdin && c.StdinOnce, TTY: c.TTY,
	}
	s.CgroupPath = in.PodCgroup(pod.UID) + "/" + s.ID()
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

// Resources maps a container's limits and requests to cgroup settings as
// the kubelet does: the CPU limit is a CFS quota per 100ms period (at least 1ms), the
// CPU request weighs the shares (2 with none), the memory limit is a hard
// limit.
func Resources(c *v1.Container) runtime.Resources {
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
