package serviceaccount

import (
	"context"
	"fmt"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	"github.com/kinns/kinns/controlplane/controllers/internal/loop"
)

// Options tune a Controller.
type Options struct {
	// Names are the accounts every namespace gets (default: "default").
	Names []string
}

// Controller creates the standard ServiceAccounts in every active namespace.
type Controller struct {
	client     kubernetes.Interface
	rec        events.EventRecorder
	log        *slog.Logger
	names      []string
	namespaces corelisters.NamespaceLister
	accounts   corelisters.ServiceAccountLister
	synced     []cache.InformerSynced
	queue      loop.Queue
}

// New registers namespace and ServiceAccount informers in d.Factory.
func New(d deps.Deps, opts Options) (*Controller, error) {
	d = d.Defaults()
	if len(opts.Names) == 0 {
		opts.Names = []string{"default"}
	}
	nsInf := d.Factory.Core().V1().Namespaces()
	saInf := d.Factory.Core().V1().ServiceAccounts()
	c := &Controller{
		client: d.Client, rec: d.Recorder, log: d.Log, names: opts.Names,
		namespaces: nsInf.Lister(), accounts: saInf.Lister(),
		synced: []cache.InformerSynced{nsInf.Informer().HasSynced, saInf.Informer().HasSynced},
		queue:  loop.NewQueue("serviceaccount"),
	}
	nsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { loop.Enqueue(c.queue, o) },
		UpdateFunc: func(_, o any) { loop.Enqueue(c.queue, o) },
	})
	saInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: c.accountDeleted,
	})
	return c, nil
}

// Run syncs namespaces with workers goroutines until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	c.log.Info("starting", "accounts", c.names)
	loop.Run(ctx, c.log, c.queue, workers, c.Sync, c.synced...)
}

func (c *Controller) accountDeleted(o any) {
	if sa, ok := loop.Unwrap(o).(*corev1.ServiceAccount); ok {
		c.queue.Add(sa.Namespace)
	}
}

// Sync creates the missing accounts of the namespace named key, unless the
// namespace is gone or terminating (creating in it would be refused).
func (c *Controller) Sync(ctx context.Context, key string) error {
	ns, err := c.namespaces.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating {
		return nil
	}
	for _, name := range c.names {
		if err := c.ensure(ctx, ns.Name, name); err != nil {
			return err
		}
	}
	return nil
}

func (c *Controller) ensure(ctx context.Context, ns, name string) error {
	if _, err := c.accounts.ServiceAccounts(ns).Get(name); err == nil {
		return nil
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	_, err := c.client.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{})
	switch {
	case err == nil:
		c.log.Info("created service account", "namespace", ns, "name", name)
		return nil
	case apierrors.IsAlreadyExists(err):
		return nil
	case apierrors.IsForbidden(err) && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return nil // the namespace began terminating after we looked
	default:
		return fmt.Errorf("create service account %s/%s: %w", ns, name, err)
	}
}
