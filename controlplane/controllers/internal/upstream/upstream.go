package upstream

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// Informer is any typed informer of a shared factory.
type Informer interface {
	Informer() cache.SharedIndexInformer
}

// Register registers each informer in its factory, so that the factory
// starts it; an informer a controller asks for only after the factory
// started would never be started.
func Register(infs ...Informer) {
	for _, i := range infs {
		i.Informer()
	}
}

// RunFunc runs a built upstream controller until ctx is done.
type RunFunc func(ctx context.Context, workers int)

// Runner builds an upstream controller and runs it.
type Runner struct {
	// Log receives the controller's own log lines (klog, bridged).
	Log *slog.Logger
	// Start builds the upstream controller with ctx, which carries the
	// bridged logger and ends with the term.
	Start func(ctx context.Context) (RunFunc, error)

	prepared bool
	run      RunFunc
	err      error
}

// Prepare builds the controller now. The manager prepares every upstream
// controller before it starts the informers: an upstream constructor adds
// its event handlers first and sets its listers after (the disruption
// controller does), as kube-controller-manager, which starts informers
// only once all controllers are built, allows. Built on running informers,
// a handler would be called with the existing objects before the lister it
// reads is set.
func (r *Runner) Prepare(ctx context.Context) {
	ctx = klog.NewContext(ctx, logr.FromSlogHandler(r.Log.Handler()))
	r.run, r.err = r.Start(ctx)
	r.prepared = true
}

// Run runs the controller, built by Prepare or now, with workers goroutines
// until ctx is done. A controller that cannot be built logs the error and
// waits for ctx: the other controllers of the manager go on.
func (r *Runner) Run(ctx context.Context, workers int) {
	if !r.prepared {
		r.Prepare(ctx)
	}
	ctx = klog.NewContext(ctx, logr.FromSlogHandler(r.Log.Handler()))
	if r.err != nil {
		if ctx.Err() == nil {
			r.Log.Error("cannot start: controller disabled", "err", r.err)
		}
		<-ctx.Done()
		return
	}
	r.Log.Info("starting", "workers", workers)
	r.run(ctx, workers)
}

// WaitDiscovery polls discover every second until it lists at least one
// resource, or ctx is done. Upstream controllers that read discovery when
// they are built fail (or exit the process) if the API server does not
// answer yet.
func WaitDiscovery(ctx context.Context, log *slog.Logger, discover func() ([]*metav1.APIResourceList, error)) error {
	return wait.PollUntilContextCancel(ctx, time.Second, true, func(context.Context) (bool, error) {
		rs, err := discover()
		if len(rs) > 0 {
			return true, nil
		}
		if err == nil {
			err = errors.New("no resources")
		}
		log.Info("waiting for discovery", "err", err)
		return false, nil
	})
}
