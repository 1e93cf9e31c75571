package disruption

import (
	"context"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/scale"
	upstream "k8s.io/kubernetes/pkg/controller/disruption"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	adapt "github.com/kinns/kinns/controlplane/controllers/internal/upstream"
)

// Workers is kube-controller-manager's default --concurrent-disruption-syncs.
const Workers = 1

// Options tune a Controller.
type Options struct {
	// Discovery maps kinds to resources and finds scale subresources
	// (default: the clientset's).
	Discovery discovery.DiscoveryInterface
}

// Controller is upstream's disruption controller in kinns' convention.
type Controller struct{ adapt.Runner }

// New registers the pod, PodDisruptionBudget, ReplicationController,
// ReplicaSet, Deployment and StatefulSet informers in d.Factory.
func New(d deps.Deps, opts Options) (*Controller, error) {
	d = d.Defaults()
	if opts.Discovery == nil {
		opts.Discovery = d.Client.Discovery()
	}
	f := d.Factory
	pods, pdbs, rcs := f.Core().V1().Pods(), f.Policy().V1().PodDisruptionBudgets(), f.Core().V1().ReplicationControllers()
	rss, deploys, sss := f.Apps().V1().ReplicaSets(), f.Apps().V1().Deployments(), f.Apps().V1().StatefulSets()
	adapt.Register(pods, pdbs, rcs, rss, deploys, sss)
	start := func(ctx context.Context) (adapt.RunFunc, error) {
		mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(opts.Discovery))
		c := upstream.NewDisruptionController(ctx, pods, pdbs, rcs, rss, deploys, sss, d.Client,
			mapper, scales(opts.Discovery, mapper), opts.Discovery)
		return c.Run, nil
	}
	return &Controller{adapt.Runner{Log: d.Log, Start: start}}, nil
}

// scales is the scale client. It is made on the discovery client's REST
// client, which has the unversioned settings scale.NewForConfig would give
// one, so that a controller needs no rest.Config of its own.
func scales(disc discovery.DiscoveryInterface, mapper *restmapper.DeferredDiscoveryRESTMapper) scale.ScalesGetter {
	resolver := scale.NewDiscoveryScaleKindResolver(disc)
	return scale.New(disc.RESTClient(), mapper, dynamic.LegacyAPIPathResolverFunc, resolver)
}
