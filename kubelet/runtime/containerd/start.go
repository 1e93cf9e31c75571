package containerd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/containerd/containerd/api/types/runc/options"
	ctrd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kinns/kinns/kubelet/runtime"
)

// Start creates and starts one run of a container. A run whose task cannot
// be created or started (a missing command, say) is not an error: it is
// recorded as ended at once with exit code 128 and ReasonStartError, and
// returned, so the caller backs off as for any crash. Errors are
// *CreateError (nothing was made) or context and connection failures.
func (c *Containerd) Start(ctx context.Context, s runtime.Spec) (runtime.Container, error) {
	ctx = c.nsCtx(ctx)
	img, err := c.client.GetImage(ctx, s.Image.Ref)
	if err != nil {
		return runtime.Container{}, &runtime.CreateError{Err: fmt.Errorf("image %s: %w", s.Image.Ref, err)}
	}
	ctr, err := c.create(ctx, s, img)
	if err != nil {
		return runtime.Container{}, &runtime.CreateError{Err: err}
	}
	rec := fromLabels(ctr.ID(), mustLabels(ctx, ctr))
	if err := c.startTask(ctx, ctr, s); err != nil {
		c.cfg.Log.Warn("container failed to start", "id", ctr.ID(), "err", err)
		return c.recordStartError(ctx, ctr, rec, err)
	}
	rec.State, rec.StartedAt = runtime.StateRunning, time.Now()
	return rec, nil
}

// create makes the containerd container of s; a leftover of an interrupted
// start with the same ID (never started) is replaced.
func (c *Containerd) create(ctx context.Context, s runtime.Spec, img ctrd.Image) (ctrd.Container, error) {
	stop, err := ctrd.GetOCIStopSignal(ctx, img, "SIGTERM")
	if err != nil {
		stop = "SIGTERM"
	}
	argv, err := commandLine(ctx, img, s.Command, s.Args)
	if err != nil {
		return nil, err
	}
	specOpts, err := c.specOpts(s, img, argv)
	if err != nil {
		return nil, err
	}
	if s.SharePIDWith != "" {
		pidns, err := c.pidNamespace(ctx, s.SharePIDWith)
		if err != nil {
			return nil, err
		}
		specOpts = append(specOpts, oci.WithLinuxNamespace(pidns))
	}
	id := s.ID()
	opts := []ctrd.NewContainerOpts{
		ctrd.WithImage(img),
		ctrd.WithSnapshotter(c.cfg.Snapshotter),
		ctrd.WithNewSnapshot(id, img),
		ctrd.WithRuntime("io.containerd.runc.v2", c.runcOptions()),
		ctrd.WithContainerLabels(specLabels(s, stop)),
		ctrd.WithNewSpec(specOpts...),
	}
	ctr, err := c.client.NewContainer(ctx, id, opts...)
	if errdefs.IsAlreadyExists(err) {
		if err := c.removeUnstarted(ctx, id); err != nil {
			return nil, err
		}
		ctr, err = c.client.NewContainer(ctx, id, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("create container %s: %w", id, err)
	}
	return ctr, nil
}

// pidNamespace is the process namespace of the running run id, by its
// task's /proc entry: runc joins it as containerd's CRI plugin does for a
// target container.
func (c *Containerd) pidNamespace(ctx context.Context, id string) (specs.LinuxNamespace, error) {
	pid, err := c.TaskPID(ctx, id)
	if err != nil {
		return specs.LinuxNamespace{}, fmt.Errorf("target container %s: %w", id, err)
	}
	if pid == 0 {
		return specs.LinuxNamespace{}, fmt.Errorf("target container %s has no process", id)
	}
	return specs.LinuxNamespace{Type: specs.PIDNamespace, Path: fmt.Sprintf("/proc/%d/ns/pid", pid)}, nil
}

func (c *Containerd) runcOptions() any {
	if c.cfg.RuncRoot == "" {
		return nil
	}
	return &options.Options{Root: c.cfg.RuncRoot}
}

func (c *Containerd) specOpts(s runtime.Spec, img ctrd.Image, argv []string) ([]oci.SpecOpts, error) {
	opts := []oci.SpecOpts{
		oci.WithImageConfig(img),
		oci.WithProcessArgs(argv...),
		// HOSTNAME as containerd's CRI plugin sets it; the container's own
		// env may override it.
		oci.WithEnv([]string{"HOSTNAME=" + s.Hostname}),
		oci.WithEnv(s.Env),
		oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: s.NetnsPath}),
		oci.WithCgroup(s.CgroupPath),
		oci.WithMounts(cgroupMounts(s.Security.Privileged)),
		oci.WithMounts(bindMounts(s.Mounts)),
	}
	if c.cg.v2 {
		// As containerd's CRI plugin: a cgroup namespace, so that the
		// container's /sys/fs/cgroup is its own cgroup, not the host's root.
		opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.CgroupNamespace}))
	}
	if s.Hostname != "" {
		opts = append(opts, oci.WithHostname(s.Hostname))
	}
	if s.TTY {
		opts = append(opts, oci.WithTTY)
	}
	if s.WorkingDir != "" {
		opts = append(opts, oci.WithProcessCwd(s.WorkingDir))
	}
	r := s.Resources
	if r.MemoryLimit > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(r.MemoryLimit)))
	}
	if r.CPUShares > 0 {
		opts = append(opts, oci.WithCPUShares(r.CPUShares))
	}
	if r.CPUQuota > 0 {
		period := r.CPUPeriod
		if period == 0 {
			period = 100000
		}
		opts = append(opts, oci.WithCPUCFS(r.CPUQuota, period))
	}
	sec, err := securityOpts(s.Security)
	if err != nil {
		return nil, err
	}
	return append(opts, sec...), nil
}

// cgroupMounts shows the container its cgroup at /sys/fs/cgroup, read-only
// unless privileged, as containerd's CRI plugin does (processes read their
// limits there; on v1 runc binds each hierarchy's container folder).
func cgroupMounts(privileged bool) []specs.Mount {
	mode := "ro"
	if privileged {
		mode = "rw"
	}
	return []specs.Mount{{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup",
		Options: []string{"nosuid", "noexec", "nodev", "relatime", mode}}}
}

func bindMounts(ms []runtime.Mount) []specs.Mount {
	out := make([]specs.Mount, 0, len(ms))
	for _, m := range ms {
		mode := "rw"
		if m.ReadOnly {
			mode = "ro"
		}
		out = append(out, specs.Mount{Destination: m.ContainerPath, Type: "bind", Source: m.HostPath,
			Options: []string{"rbind", "rprivate", mode}})
	}
	return out
}

// commandLine applies Kubernetes' rule: command replaces the entrypoint and
// drops the image's cmd; args alone replace the cmd.
func commandLine(ctx context.Context, img ctrd.Image, command, args []string) ([]string, error) {
	spec, err := img.Spec(ctx)
	if err != nil {
		return nil, fmt.Errorf("read config of image %s: %w", img.Name(), err)
	}
	entry, cmd := spec.Config.Entrypoint, spec.Config.Cmd
	if len(command) > 0 {
		entry, cmd = command, nil
	}
	if len(args) > 0 {
		cmd = args
	}
	argv := append(append([]string{}, entry...), cmd...)
	if len(argv) == 0 {
		return nil, fmt.Errorf("no command: neither the container nor image %s names one", img.Name())
	}
	return argv, nil
}

func specLabels(s runtime.Spec, stopSignal string) map[string]string {
	l := map[string]string{
		runtime.LabelPodUID: s.Pod.UID, runtime.LabelPodNamespace: s.Pod.Namespace, runtime.LabelPodName: s.Pod.Name,
		runtime.LabelContainerName: s.Name, runtime.LabelAttempt: strconv.Itoa(s.Attempt),
		runtime.LabelImage: s.Image.Ref, runtime.LabelImageID: s.Image.ID, runtime.LabelLogPath: s.LogPath,
		runtime.LabelCgroup: s.CgroupPath, runtime.LabelStopSignal: stopSignal,
		runtime.LabelResources: s.Resources.String(),
	}
	if s.Init {
		l[runtime.LabelInit] = "true"
	}
	if s.Ephemeral {
		l[runtime.LabelEphemeral] = "true"
	}
	if s.TTY {
		l[runtime.LabelTTY] = "true"
	}
	return l
}

// startTask creates the task with its output going to the run's log, starts
// it and watches for its exit.
func (c *Containerd) startTask(ctx context.Context, ctr ctrd.Container, s runtime.Spec) (err error) {
	sink, err := c.cfg.OpenLog(s.LogPath)
	if err != nil {
		return fmt.Errorf("open log %s: %w", s.LogPath, err)
	}
	defer func() {
		if err != nil {
			sink.Close()
		}
	}()
	con, stdin := newConsole(s)
	defer func() {
		if err != nil {
			con.runEnded() // never started: its stdin's copier must not wait
		}
	}()
	opts := []cio.Opt{cio.WithStreams(stdin, con.stream("stdout", sink.Stream("stdout")), con.stream("stderr", sink.Stream("stderr"))),
		cio.WithFIFODir(c.fifoDir())}
	if s.TTY {
		opts = append(opts, cio.WithTerminal)
	}
	task, err := ctr.NewTask(ctx, cio.NewCreator(opts...))
	if err != nil {
		return fmt.Errorf("create task: %w", err)
	}
	if s.Stdin {
		con.setCloseIO(func() {
			if err := task.CloseIO(c.nsCtx(c.ctx), ctrd.WithStdinCloser); err != nil && !errdefs.IsNotFound(err) {
				c.cfg.Log.Warn("close stdin", "id", ctr.ID(), "err", err)
			}
		})
	}
	// Wait before Start, so that no exit can be missed.
	exited, err := task.Wait(c.ctx)
	if err == nil {
		err = task.Start(ctx)
	}
	if err != nil {
		task.Delete(context.WithoutCancel(ctx), ctrd.WithProcessKill)
		return fmt.Errorf("start task: %w", err)
	}
	if _, err := ctr.SetLabels(ctx, map[string]string{runtime.LabelStartedAt: stamp(time.Now())}); err != nil {
		// Left without it, the run looks never started: it is replaced.
		c.cfg.Log.Warn("record container start", "id", ctr.ID(), "err", err)
	}
	c.watch(ctr.ID(), task, exited, sink, con)
	return nil
}

// recordStartError keeps the container as a run that ended at once.
func (c *Containerd) recordStartError(ctx context.Context, ctr ctrd.Container, rec runtime.Container, startErr error) (runtime.Container, error) {
	now := time.Now()
	msg := startErr.Error()
	if len(msg) > 1024 {
		msg = msg[:1024]
	}
	_, err := ctr.SetLabels(ctx, map[string]string{
		runtime.LabelStartedAt: stamp(now), runtime.LabelFinishedAt: stamp(now), runtime.LabelExitCode: "128",
		runtime.LabelReason: runtime.ReasonStartError, runtime.LabelMessage: msg,
	})
	if err != nil {
		return runtime.Container{}, errors.Join(startErr, err)
	}
	rec.State, rec.ExitCode, rec.Reason, rec.Message = runtime.StateExited, 128, runtime.ReasonStartError, msg
	rec.StartedAt, rec.FinishedAt = now, now
	return rec, nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
