package pods

import (
	"context"
	"errors"
	"fmt"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/kinns/kinns/kubelet/internal/podinputs"
	"github.com/kinns/kinns/kubelet/runtime"
)

// Bounds on one start's calls, so that a hung API server or containerd
// turns into a start error that is retried, not a pod stuck without status.
const (
	apiTimeout     = 30 * time.Second
	runtimeTimeout = 2 * time.Minute
)

// start runs one attempt of a container: image, spec, start. A failure is
// shown as the container's waiting reason and retried with backoff; start
// returns how long until that retry.
func (w *podWorker) start(ctx context.Context, pod *v1.Pod, sb *sandbox, rs runs, a action) time.Duration {
	c := containerByName(pod, a.name, a.init)
	if a.ephemeral {
		c = ephemeralByName(pod, a.name)
	}
	if c == nil {
		return 0
	}
	now := w.k.clock.Now()
	pullKey := "pull/" + backoffKey(pod, c.Name)
	if failed, ok := w.pullFailed[c.Name]; ok {
		if wait := w.k.backoff.Remaining(pullKey, failed, now); wait > 0 {
			w.pullBackOff(pod, c)
			return wait
		}
	}
	w.at("start " + c.Name + ": image volumes")
	vimgs, failed, err := w.volumeImages(ctx, pod, c)
	if err != nil {
		retry := w.failStart(pod, c, pullKey, imageReason(err), err)
		last := w.waiting[c.Name]
		last.image = failed
		w.waiting[c.Name] = last
		return retry
	}
	w.at("start " + c.Name + ": image")
	img, err := w.k.images.Ensure(ctx, pod, c)
	if err != nil {
		return w.failStart(pod, c, pullKey, imageReason(err), err)
	}
	delete(w.pullFailed, c.Name)
	w.at("start " + c.Name + ": environment and volumes")
	specCtx, cancel := context.WithTimeout(ctx, apiTimeout)
	spec, err := w.k.inputs.ContainerSpec(specCtx, pod, sb.Sandbox, podinputs.Run{Container: c, Init: a.init, Ephemeral: a.ephemeral, Attempt: a.attempt, Image: img, VolumeImages: vimgs})
	cancel()
	if err == nil && a.ephemeral {
		spec.SharePIDWith, err = targetRun(pod, a.name, rs)
	}
	var mountErr *podinputs.MountError
	if errors.As(err, &mountErr) {
		return w.waitMount(pod, c, mountErr)
	}
	var createErr *runtime.CreateError
	if errors.As(err, &createErr) {
		return w.failStart(pod, c, pullKey, "CreateContainerError", err)
	}
	if err != nil {
		return w.failStart(pod, c, pullKey, "CreateContainerConfigError", err)
	}
	if last := rs.latest(c.Name); last != nil && last.State == runtime.StateExited {
		w.k.backoff.Next(backoffKey(pod, c.Name), now)
	}
	w.at("start " + c.Name + ": containerd")
	startCtx, cancel := context.WithTimeout(ctx, runtimeTimeout)
	run, err := w.k.rt.Start(startCtx, spec)
	cancel()
	if err != nil {
		return w.failStart(pod, c, pullKey, "CreateContainerError", err)
	}
	delete(w.waiting, c.Name)
	w.mountMsg = ""
	if run.State == runtime.StateExited {
		w.k.event(pod, v1.EventTypeWarning, "Failed", "Error: %s", run.Message)
		return 0
	}
	w.k.event(pod, v1.EventTypeNormal, "Started", "Started container %s", c.Name)
	w.k.log.Info("container started", "pod", w.name(), "container", c.Name, "restartCount", a.attempt, "id", run.ID)
	w.postStart(ctx, pod, c, sb.IP, run.ID)
	return 0
}

// startRetry is upstream's pod worker back-off: how soon a pod whose
// container could not be created is synced again (at once on an update of
// the pod). A SyncInterval shorter than that is used instead.
const startRetry = 10 * time.Second

// failStart records why a start failed. A container that could not be
// created (a missing ConfigMap, an empty subPathExpr variable, a runtime
// error) is retried after startRetry, or at once when the pod changes, as
// upstream's pod worker does; a failed pull backs off (ImagePullBackOff).
func (w *podWorker) failStart(pod *v1.Pod, c *v1.Container, key, reason string, err error) time.Duration {
	now := w.k.clock.Now()
	w.waiting[c.Name] = waiting{Reason: reason, Message: err.Error()}
	w.k.log.Warn("container not started", "pod", w.name(), "container", c.Name, "reason", reason, "err", err)
	if reason == "CreateContainerConfigError" || reason == "CreateContainerError" {
		// Upstream's event carries the error alone; the reason is the
		// container's waiting state.
		w.k.event(pod, v1.EventTypeWarning, "Failed", "Error: %v", err)
		return min(startRetry, w.k.cfg.SyncInterval)
	}
	w.pullFailed[c.Name] = now
	w.k.backoff.Next(key, now)
	// An image error: the image manager's event told the cause.
	w.k.event(pod, v1.EventTypeWarning, "Failed", "Error: %s", reason)
	return max(w.k.backoff.Remaining(key, now, now), time.Millisecond)
}

// pullBackOff shows a container whose image pull failed, while it waits
// for its next try, as upstream does: ImagePullBackOff with the last pull
// error, a BackOff event.
func (w *podWorker) pullBackOff(pod *v1.Pod, c *v1.Container) {
	last := w.waiting[c.Name]
	image := c.Image
	if last.image != "" {
		image = last.image
	}
	switch last.Reason {
	case "ErrImagePull":
		last = waiting{Reason: "ImagePullBackOff", Message: fmt.Sprintf("Back-off pulling image %q: ErrImagePull: %s", image, last.Message), image: last.image}
	case "ImagePullBackOff":
	default:
		return
	}
	w.waiting[c.Name] = last
	failed := w.pullFailed[c.Name]
	if w.pullBackOffTold[c.Name].Equal(failed) {
		return
	}
	w.pullBackOffTold[c.Name] = failed
	w.k.event(pod, v1.EventTypeNormal, "BackOff", "Back-off pulling image %q", image)
	w.k.event(pod, v1.EventTypeWarning, "Failed", "Error: ImagePullBackOff")
}

// mountRetry is how soon a start whose volume was not ready is tried
// again: a claim is bound within a second or two of its pod's binding.
const mountRetry = time.Second

// waitMount keeps the container waiting as one not created yet
// (ContainerCreating; PodInitializing in a pod with init containers) while a
// volume cannot be set up, with a FailedMount event each time the reason
// changes, as the kubelet's volume manager does; no backoff: it is not the
// container's failure.
func (w *podWorker) waitMount(pod *v1.Pod, c *v1.Container, err *podinputs.MountError) time.Duration {
	prev := w.waiting[c.Name]
	w.waiting[c.Name] = waiting{Reason: defaultWaitingReason(pod)}
	if w.mountMsg != err.Msg {
		w.mountMsg = err.Msg
		w.k.event(pod, v1.EventTypeWarning, "FailedMount", "%s", err.Msg)
		w.k.log.Info("volume not ready", "pod", w.name(), "container", c.Name, "volume", err.Volume, "err", err.Msg, "was", prev.Reason)
	}
	return mountRetry
}

func imageReason(err error) string {
	var ie *runtime.ImageError
	if errors.As(err, &ie) {
		return ie.Reason
	}
	return "ErrImagePull"
}

// volumeImages provides the images of the image volumes container c
// mounts, by volume name, as upstream's kubelet pulls them before it starts
// the container: by each volume's pullPolicy, with the pod's pull secrets
// and the events of a container's image. failed is the reference whose
// pull failed, with the error.
func (w *podWorker) volumeImages(ctx context.Context, pod *v1.Pod, c *v1.Container) (imgs map[string]runtime.Image, failed string, err error) {
	for _, vm := range c.VolumeMounts {
		vol := volumeByName(pod, vm.Name)
		if vol == nil || vol.Image == nil {
			continue
		}
		if _, done := imgs[vol.Name]; done {
			continue
		}
		img, err := w.k.images.EnsureVolume(ctx, pod, vol.Image)
		if err != nil {
			return nil, vol.Image.Reference, err
		}
		if imgs == nil {
			imgs = map[string]runtime.Image{}
		}
		imgs[vol.Name] = img
	}
	return imgs, "", nil
}

func volumeByName(pod *v1.Pod, name string) *v1.Volume {
	for i := range pod.Spec.Volumes {
		if pod.Spec.Volumes[i].Name == name {
			return &pod.Spec.Volumes[i]
		}
	}
	return nil
}

// ephemeralByName is the pod's ephemeral container called name, seen as a
// Container (the fields it may not set are empty), or nil.
func ephemeralByName(pod *v1.Pod, name string) *v1.Container {
	for i := range pod.Spec.EphemeralContainers {
		if ec := &pod.Spec.EphemeralContainers[i]; ec.Name == name {
			c := v1.Container(ec.EphemeralContainerCommon)
			return &c
		}
	}
	return nil
}

// targetRun is the running run whose process namespace the ephemeral
// container name joins (its targetContainerName); "" without a target.
func targetRun(pod *v1.Pod, name string, rs runs) (string, error) {
	for _, ec := range pod.Spec.EphemeralContainers {
		if ec.Name != name || ec.TargetContainerName == "" {
			continue
		}
		if last := rs.latest(ec.TargetContainerName); last != nil && last.State == runtime.StateRunning {
			return last.ID, nil
		}
		return "", fmt.Errorf("target container %q is not running", ec.TargetContainerName)
	}
	return "", nil
}

func containerByName(pod *v1.Pod, name string, init bool) *v1.Container {
	list := pod.Spec.Containers
	if init {
		list = pod.Spec.InitContainers
	}
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}
