package controllers

import (
	"context"
	"net/netip"

	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"

	"github.com/kinns/kinns/controlplane/controllers/deployment"
	"github.com/kinns/kinns/controlplane/controllers/dnsendpoints"
	"github.com/kinns/kinns/controlplane/controllers/endpoints"
	"github.com/kinns/kinns/controlplane/controllers/garbagecollector"
	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	"github.com/kinns/kinns/controlplane/controllers/localpath"
	"github.com/kinns/kinns/controlplane/controllers/namespace"
	"github.com/kinns/kinns/controlplane/controllers/nodeipam"
	"github.com/kinns/kinns/controlplane/controllers/nodelifecycle"
	"github.com/kinns/kinns/controlplane/controllers/persistentvolume"
	"github.com/kinns/kinns/controlplane/controllers/replicaset"
	"github.com/kinns/kinns/controlplane/controllers/rootca"
	"github.com/kinns/kinns/controlplane/controllers/serviceaccount"
)

// runner is what every controller package's New returns.
type runner interface {
	Run(ctx context.Context, workers int)
}

// env is what a controller is built from: its deps.Deps and what only some
// controllers need.
type env struct {
	deps.Deps
	cfg     Config
	meta    metadata.Interface // as the controller's service account
	metaInf metadatainformer.SharedInformerFactory
	started <-chan struct{} // closed once the factories are started
	rootCA  []byte          // the CA that signs the API server's certificate, PEM
}

// spec is one controller: its name, the kube-system ServiceAccount it acts
// as (upstream's, so the RBAC roles the API server bootstraps for
// kube-controller-manager's controllers apply), and how to build it.
type spec struct {
	name, account string
	build         func(e env) (runner, error)
}

var specs = []spec{
	{"endpointslice", "endpointslice-controller", func(e env) (runner, error) {
		return endpoints.New(e.Deps, endpoints.Options{Write: endpoints.WriteSlices})
	}},
	{"endpoints", "endpoint-controller", func(e env) (runner, error) {
		return endpoints.New(e.Deps, endpoints.Options{Write: endpoints.WriteEndpoints})
	}},
	{"dns-endpoints", "endpointslice-controller", func(e env) (runner, error) {
		return dnsendpoints.New(e.Deps, dnsendpoints.Options{Servers: e.cfg.DNSServers})
	}},
	{"nodeipam", "node-controller", func(e env) (runner, error) {
		return nodeipam.New(e.Deps, nodeipam.Options{
			ClusterCIDR: netip.MustParsePrefix(e.cfg.ClusterCIDR), NodeMaskSize: e.cfg.NodeCIDRMaskSize,
		})
	}},
	{"nodelifecycle", "node-controller", func(e env) (runner, error) {
		return nodelifecycle.New(e.Deps, nodelifecycle.Options{
			MonitorPeriod: e.cfg.NodeMonitorPeriod, GracePeriod: e.cfg.NodeMonitorGracePeriod,
			StartupGracePeriod: e.cfg.NodeStartupGracePeriod,
		})
	}},
	{"serviceaccount", "service-account-controller", func(e env) (runner, error) {
		return serviceaccount.New(e.Deps, serviceaccount.Options{})
	}},
	{"namespace", "namespace-controller", func(e env) (runner, error) {
		return namespace.New(e.Deps, namespace.Options{Metadata: e.meta, ResyncPeriod: e.cfg.Resync})
	}},
	{"root-ca-cert-publisher", "root-ca-cert-publisher", func(e env) (runner, error) {
		return rootca.New(e.Deps, rootca.Options{CA: e.rootCA})
	}},
	{"garbagecollector", "generic-garbage-collector", func(e env) (runner, error) {
		return garbagecollector.New(e.Deps, garbagecollector.Options{
			Metadata: e.meta, MetadataInformers: e.metaInf, InformersStarted: e.started,
		})
	}},
	{"replicaset", "replicaset-controller", func(e env) (runner, error) {
		return replicaset.New(e.Deps, replicaset.Options{})
	}},
	{"deployment", "deployment-controller", func(e env) (runner, error) {
		return deployment.New(e.Deps, deployment.Options{})
	}},
	{name: "persistentvolume-binder", account: "persistent-volume-binder", build: func(e env) (runner, error) {
		return persistentvolume.New(e.Deps, persistentvolume.Options{})
	}},
	{name: "pvc-protection", account: "pvc-protection-controller", build: func(e env) (runner, error) {
		return persistentvolume.NewClaimProtection(e.Deps)
	}},
	{name: "pv-protection", account: "pv-protection-controller", build: func(e env) (runner, error) {
		return persistentvolume.NewVolumeProtection(e.Deps)
	}},
	{name: "local-path-provisioner", account: "persistent-volume-binder", build: func(e env) (runner, error) {
		return localpath.New(e.Deps, localpath.Options{Root: e.cfg.LocalPathRoot})
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
