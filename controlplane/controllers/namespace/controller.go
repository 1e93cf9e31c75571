package namespace

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/klog/v2"
	upstream "k8s.io/kubernetes/pkg/controller/namespace"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
)

// Options tune a Controller.
type Options struct {
	// Metadata deletes the objects; required.
	Metadata metadata.Interface
	// Discovery lists the namespaced resources (default: the clientset's).
	Discovery discovery.DiscoveryInterface
	// ResyncPeriod re-examines every namespace this often (default 5 min,
	// upstream's), so a namespace whose deletion stalled is retried.
	ResyncPeriod time.Duration
}

// Controller deletes the content of terminating namespaces.
type Controller struct {
	client   kubernetes.Interface
	log      *slog.Logger
	opts     Options
	informer coreinformers.NamespaceInformer
}

// New registers a namespace informer in d.Factory. d.Recorder is unused:
// upstream's controller reports through the namespace's status conditions.
func New(d deps.Deps, opts Options) (*Controller, error) {
	d = d.Defaults()
	if opts.Discovery == nil {
		opts.Discovery = d.Client.Discovery()
	}
	if opts.ResyncPeriod <= 0 {
		opts.ResyncPeriod = 5 * time.Minute
	}
	inf := d.Factory.Core().V1().Namespaces()
	inf.Informer() // registered now, so the factory starts it
	return &Controller{client: d.Client, log: d.Log, opts: opts, informer: inf}, nil
}

// Run waits until discovery answers, then runs upstream's controller with
// workers goroutines until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	ctx = klog.NewContext(ctx, logr.FromSlogHandler(c.log.Handler()))
	if c.opts.Metadata == nil {
		c.log.Error("no metadata client: namespace deletion disabled")
		<-ctx.Done()
		return
	}
	if err := c.waitDiscovery(ctx); err != nil {
		return
	}
	c.log.Info("starting")
	nc := upstream.NewNamespaceController(ctx, c.client, c.opts.Metadata, c.discover,
		c.informer, c.opts.ResyncPeriod, corev1.FinalizerKubernetes)
	nc.Run(ctx, workers)
}

func (c *Controller) discover() ([]*metav1.APIResourceList, error) {
	return c.opts.Discovery.ServerPreferredNamespacedResources()
}

// waitDiscovery polls discovery every second until it lists at least
// one resource or ctx is done.
func (c *Controller) waitDiscovery(ctx context.Context) error {
	return wait.PollUntilContextCancel(ctx, time.Second, true, func(context.Context) (bool, error) {
		rs, err := c.discover()
		if len(rs) > 0 {
			return true, nil
		}
		if err == nil {
			err = errors.New("no resources")
		}
		c.log.Info("waiting for discovery", "err", err)
		return false, nil
	})
}
