package controllers

import (
	"context"
	"log/slog"
	"net/netip"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"

	"github.com/kinns/kinns/controlplane/controllers/deployment"
	"github.com/kinns/kinns/controlplane/controllers/dnsendpoints"
	"github.com/kinns/kinns/controlplane/controllers/endpoints"
	"github.com/kinns/kinns/controlplane/controllers/garbagecollector"
	"github.com/kinns/kinns/controlplane/controllers/namespace"
	"github.com/kinns/kinns/controlplane/controllers/nodeipam"
	"github.com/kinns/kinns/controlplane/controllers/nodelifecycle"
	"github.com/kinns/kinns/controlplane/controllers/replicaset"
	"github.com/kinns/kinns/controlplane/controllers/rootca"
	"github.com/kinns/kinns/controlplane/controllers/serviceaccount"
)

// runner is what every controller package's New returns.
type runner interface {
	Run(ctx context.Context, workers int)
}

// deps is what a controller is built from.
type deps struct {
	cfg      Config
	client   kubernetes.Interface // acts as the controller's service account
	rest     *rest.Config         // that account's client config
	factory  informers.SharedInformerFactory
	metaInf  metadatainformer.SharedInformerFactory
	started  <-chan struct{} // closed once the factories are started
	rootCA   []byte          // the CA that signs the API server's certificate, PEM
	recorder events.EventRecorder
	log      *slog.Logger
}

// spec is one controller: its name, the kube-system ServiceAccount it acts
// as (upstream's, so the RBAC roles the API server bootstraps for
// kube-controller-manager's controllers apply), and how to build it.
type spec struct {
	name, account string
	build         func(d deps) (runner, error)
}

var specs = []spec{
	{"endpointslice", "endpointslice-controller", func(d deps) (runner, error) {
		return endpoints.New(d.client, d.factory, d.recorder, d.log, endpoints.Options{Write: endpoints.WriteSlices}), nil
	}},
	{"endpoints", "endpoint-controller", func(d deps) (runner, error) {
		return endpoints.New(d.client, d.factory, d.recorder, d.log, endpoints.Options{Write: endpoints.WriteEndpoints}), nil
	}},
	{"dns-endpoints", "endpointslice-controller", func(d deps) (runner, error) {
		return dnsendpoints.New(d.client, d.log, dnsendpoints.Options{Servers: d.cfg.DNSServers}), nil
	}},
	{"nodeipam", "node-controller", func(d deps) (runner, error) {
		return nodeipam.New(d.client, d.factory, d.recorder, d.log, nodeipam.Options{
			ClusterCIDR: netip.MustParsePrefix(d.cfg.ClusterCIDR), NodeMaskSize: d.cfg.NodeCIDRMaskSize,
		}), nil
	}},
	{"nodelifecycle", "node-controller", func(d deps) (runner, error) {
		return nodelifecycle.New(d.client, d.factory, d.recorder, d.log, nodelifecycle.Options{
			MonitorPeriod: d.cfg.NodeMonitorPeriod, GracePeriod: d.cfg.NodeMonitorGracePeriod,
			StartupGracePeriod: d.cfg.NodeStartupGracePeriod,
		}), nil
	}},
	{"serviceaccount", "service-account-controller", func(d deps) (runner, error) {
		return serviceaccount.New(d.client, d.factory, d.recorder, d.log, serviceaccount.Options{}), nil
	}},
	{"namespace", "namespace-controller", func(d deps) (runner, error) {
		meta, err := metadata.NewForConfig(d.rest)
		if err != nil {
			return nil, err
		}
		return namespace.New(d.client, d.factory, d.recorder, d.log, namespace.Options{Metadata: meta, ResyncPeriod: d.cfg.Resync}), nil
	}},
	{"root-ca-cert-publisher", "root-ca-cert-publisher", func(d deps) (runner, error) {
		return rootca.New(d.client, d.factory, d.recorder, d.log, rootca.Options{CA: d.rootCA})
	}},
	{"garbagecollector", "generic-garbage-collector", func(d deps) (runner, error) {
		meta, err := metadata.NewForConfig(d.rest)
		if err != nil {
			return nil, err
		}
		return garbagecollector.New(d.client, d.factory, d.recorder, d.log, garbagecollector.Options{
			Metadata: meta, MetadataInformers: d.metaInf, InformersStarted: d.started,
		}), nil
	}},
	{"replicaset", "replicaset-controller", func(d deps) (runner, error) {
		return replicaset.New(d.client, d.factory, d.recorder, d.log), nil
	}},
	{"deployment", "deployment-controller", func(d deps) (runner, error) {
		return deployment.New(d.client, d.factory, d.recorder, d.log), nil
	}},
}

// Names lists the controllers a manager can run, in start order.
func Names() []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.name
	}
	return out
}
