package images

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"
	v1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"

	"github.com/kinns/kinns/kubelet/runtime"
)

// Config holds the manager's side effects.
type Config struct {
	// Store is the node's image store.
	Store runtime.ImageService
	// Secret reads a pull secret (the kubelet's API client: the Node
	// authorizer lets a node read the secrets of pods bound to it).
	Secret func(ctx context.Context, namespace, name string) (*v1.Secret, error)
	// Event records an event on the pod; nil records none.
	Event func(pod *v1.Pod, eventtype, reason, message string)
	// Clock times pulls; nil is the real clock.
	Clock clock.PassiveClock
	Log   *slog.Logger
}

// Manager provides containers' images. It is safe for concurrent use.
type Manager struct {
	cfg     Config
	flights singleflight.Group
}

// New makes a manager.
func New(cfg Config) *Manager {
	if cfg.Event == nil {
		cfg.Event = func(*v1.Pod, string, string, string) {}
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Manager{cfg: cfg}
}

// Ensure returns container c's image, pulling it if its policy says so,
// and records on pod the events upstream's kubelet does. Errors are
// *runtime.ImageError, with the waiting reason the container shows.
func (m *Manager) Ensure(ctx context.Context, pod *v1.Pod, c *v1.Container) (runtime.Image, error) {
	return m.ensure(ctx, pod, c.Image, c.ImagePullPolicy)
}

// EnsureVolume returns the image of an image volume (volumes.image), by
// its pullPolicy, with the same events, pull secrets and errors as a
// container's image, as upstream's kubelet pulls it before the containers
// that mount it start.
func (m *Manager) EnsureVolume(ctx context.Context, pod *v1.Pod, src *v1.ImageVolumeSource) (runtime.Image, error) {
	return m.ensure(ctx, pod, src.Reference, src.PullPolicy)
}

func (m *Manager) ensure(ctx context.Context, pod *v1.Pod, image string, policy v1.PullPolicy) (runtime.Image, error) {
	c := &v1.Container{Image: image, ImagePullPolicy: policy}
	name, err := runtime.NormalizeImage(c.Image)
	if err != nil {
		m.cfg.Event(pod, v1.EventTypeWarning, "InspectFailed", fmt.Sprintf("Failed to apply default image tag %q: %v", c.Image, err))
		return runtime.Image{}, &runtime.ImageError{Reason: "InvalidImageName", Image: c.Image, Err: err}
	}
	local, present, err := m.cfg.Store.LocalImage(ctx, name)
	if err != nil {
		m.cfg.Event(pod, v1.EventTypeWarning, "InspectFailed", fmt.Sprintf("Failed to inspect image %q: %v", c.Image, err))
		return runtime.Image{}, err
	}
	switch decide(policyOf(c, name), name, present) {
	case useLocal:
		m.cfg.Event(pod, v1.EventTypeNormal, "Pulled", fmt.Sprintf("Container image %q already present on machine", c.Image))
		return local, nil
	case neverPull:
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
		m.cfg.Event(pod, v1.EventTypeWarning, "ErrImageNeverPull", msg)
		return runtime.Image{}, &runtime.ImageError{Reason: "ErrImageNeverPull", Image: c.Image, Err: errors.New(msg)}
	case notInLab:
		err := fmt.Errorf("not in the lab's image store: %s images have no registry behind them, load it with `lab load ARCHIVE`", LabDomain)
		m.cfg.Event(pod, v1.EventTypeWarning, "Failed", fmt.Sprintf("Failed to pull image %q: %v", c.Image, err))
		return runtime.Image{}, &runtime.ImageError{Reason: "ErrImagePull", Image: c.Image, Err: err}
	}
	return m.pull(ctx, pod, withDefaultTag(c.Image), name)
}

// pull pulls name for pod (image is the name its events show), sharing
// the pull with every other container that wants name with the same
// credentials at the same time.
func (m *Manager) pull(ctx context.Context, pod *v1.Pod, image, name string) (runtime.Image, error) {
	auths, missing, _ := m.credentials(ctx, pod, name)
	if len(missing) > 0 {
		m.cfg.Event(pod, v1.EventTypeWarning, "FailedToRetrieveImagePullSecret", fmt.Sprintf(
			"Unable to retrieve some image pull secrets (%s); attempting to pull the image may not succeed.", strings.Join(missing, ", ")))
	}
	m.cfg.Event(pod, v1.EventTypeNormal, "Pulling", fmt.Sprintf("Pulling image %q", image))
	start := m.cfg.Clock.Now()
	ch := m.flights.DoChan(flightKey(name, auths), func() (any, error) {
		// A pull outlives the pod that started it: others may wait on it.
		return m.pullWith(context.WithoutCancel(ctx), name, auths)
	})
	var res flight
	select {
	case <-ctx.Done():
		return runtime.Image{}, &runtime.ImageError{Reason: "ErrImagePull", Image: image, Err: ctx.Err()}
	case r := <-ch:
		if r.Err != nil {
			m.cfg.Event(pod, v1.EventTypeWarning, "Failed", fmt.Sprintf("Failed to pull image %q: %v", image, pullMessage(r.Err)))
			return runtime.Image{}, &runtime.ImageError{Reason: "ErrImagePull", Image: image, Err: errors.New(pullMessage(r.Err))}
		}
		res = r.Val.(flight)
	}
	waited := m.cfg.Clock.Since(start).Truncate(time.Millisecond)
	m.cfg.Event(pod, v1.EventTypeNormal, "Pulled", fmt.Sprintf("Successfully pulled image %q in %v (%v including waiting). Image size: %d bytes.",
		image, res.took.Truncate(time.Millisecond), waited, res.img.Size))
	return res.img, nil
}

// flight is the result of one shared pull.
type flight struct {
	img  runtime.Image
	took time.Duration
}

// pullWith tries each credential in turn, as upstream does (anonymously
// when there is none), and returns the first success or every error.
func (m *Manager) pullWith(ctx context.Context, name string, auths []runtime.Auth) (flight, error) {
	start := m.cfg.Clock.Now()
	if len(auths) == 0 {
		img, err := m.cfg.Store.PullImage(ctx, name, nil)
		return flight{img, m.cfg.Clock.Since(start)}, err
	}
	var errs []error
	for i := range auths {
		img, err := m.cfg.Store.PullImage(ctx, name, &auths[i])
		if err == nil {
			return flight{img, m.cfg.Clock.Since(start)}, nil
		}
		errs = append(errs, err)
	}
	return flight{}, errors.Join(errs...)
}

// pullMessage is a pull error as the container's message shows it: the
// store's errors without the "image X:" prefix the event already names.
func pullMessage(err error) string {
	var msgs []string
	for _, e := range unjoin(err) {
		var ie *runtime.ImageError
		if errors.As(e, &ie) && ie.Err != nil {
			e = ie.Err
		}
		msgs = append(msgs, e.Error())
	}
	return strings.Join(msgs, "; ")
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// flightKey is one pull: an image and the credentials it is pulled with.
func flightKey(name string, auths []runtime.Auth) string {
	parts := []string{name}
	for i := range auths {
		parts = append(parts, authKey(&auths[i]))
	}
	return strings.Join(parts, "\x01")
}
