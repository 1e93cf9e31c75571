package controllers

import (
	"context"
	"log/slog"
	"net/netip"

	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"

	"github.com/kinns/kinns/controlplane/controllers/cronjob"
	"github.com/kinns/kinns/controlplane/controllers/csrapproving"
	"github.com/kinns/kinns/controlplane/controllers/csrsigning"
	"github.com/kinns/kinns/controlplane/controllers/daemonset"
	"github.com/kinns/kinns/controlplane/controllers/deployment"
	"github.com/kinns/kinns/controlplane/controllers/disruption"
	"github.com/kinns/kinns/controlplane/controllers/dnsendpoints"
	"github.com/kinns/kinns/controlplane/controllers/endpoints"
	"github.com/kinns/kinns/controlplane/controllers/endpointslicemirroring"
	"github.com/kinns/kinns/controlplane/controllers/garbagecollector"
	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	"github.com/kinns/kinns/controlplane/controllers/job"
	"github.com/kinns/kinns/controlplane/controllers/localpath"
	"github.com/kinns/kinns/controlplane/controllers/namespace"
	"github.com/kinns/kinns/controlplane/controllers/nodeipam"
	"github.com/kinns/kinns/controlplane/controllers/nodelifecycle"
	"github.com/kinns/kinns/controlplane/controllers/persistentvolume"
	"github.com/kinns/kinns/controlplane/controllers/podgc"
	"github.com/kinns/kinns/controlplane/controllers/replicaset"
	"github.com/kinns/kinns/controlplane/controllers/replication"
	"github.com/kinns/kinns/controlplane/controllers/resourcequota"
	"github.com/kinns/kinns/controlplane/controllers/rootca"
	"github.com/kinns/kinns/controlplane/controllers/serviceaccount"
	"github.com/kinns/kinns/controlplane/controllers/statefulset"
	"github.com/kinns/kinns/controlplane/controllers/ttlafterfinished"
	"github.com/kinns/kinns/controlplane/controllers/vacprotection"
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
// kube-controller-manager's controllers apply), how to build it, and its
// workers (0: the manager's Config.Workers; upstream's controllers have
// kube-controller-manager's default counts).
type spec struct {
	name, account string
	build         func(e env) (runner, error)
	workers       int
}

// workersOf is how many workers the manager runs s with.
func workersOf(s spec, cfg Config) int {
	if s.workers > 0 {
		return s.workers
	}
	return cfg.Workers
}

var specs = []spec{
	{name: "endpointslice", account: "endpointslice-controller", build: func(e env) (runner, error) {
		return endpoints.New(e.Deps, endpoints.Options{Write: endpoints.WriteSlices})
	}},
	{name: "endpoints", account: "endpoint-controller", build: func(e env) (runner, error) {
		return endpoints.New(e.Deps, endpoints.Options{Write: endpoints.WriteEndpoints})
	}},
	{name: "dns-endpoints", account: "endpointslice-controller", build: func(e env) (runner, error) {
		return dnsendpoints.New(e.Deps, dnsendpoints.Options{Servers: e.cfg.DNSServers})
	}},
	{name: "nodeipam", account: "node-controller", build: func(e env) (runner, error) {
		return nodeipam.New(e.Deps, nodeipam.Options{
			ClusterCIDR: netip.MustParsePrefix(e.cfg.ClusterCIDR), NodeMaskSize: e.cfg.NodeCIDRMaskSize,
		})
	}},
	{name: "nodelifecycle", account: "node-controller", build: func(e env) (runner, error) {
		return nodelifecycle.New(e.Deps, nodelifecycle.Options{
			MonitorPeriod: e.cfg.NodeMonitorPeriod, GracePeriod: e.cfg.NodeMonitorGracePeriod,
			StartupGracePeriod: e.cfg.NodeStartupGracePeriod,
		})
	}},
	{name: "serviceaccount", account: "service-account-controller", build: func(e env) (runner, error) {
		return serviceaccount.New(e.Deps, serviceaccount.Options{})
	}},
	{name: "namespace", account: "namespace-controller", build: func(e env) (runner, error) {
		return namespace.New(e.Deps, namespace.Options{Metadata: e.meta, ResyncPeriod: e.cfg.Resync})
	}},
	{name: "root-ca-cert-publisher", account: "root-ca-cert-publisher", build: func(e env) (runner, error) {
		return rootca.New(e.Deps, rootca.Options{CA: e.rootCA})
	}},
	{name: "garbagecollector", account: "generic-garbage-collector", build: func(e env) (runner, error) {
		return garbagecollector.New(e.Deps, garbagecollector.Options{
			Metadata: e.meta, MetadataInformers: e.metaInf, InformersStarted: e.started,
		})
	}},
	{name: "replicaset", account: "replicaset-controller", build: func(e env) (runner, error) {
		return replicaset.New(e.Deps, replicaset.Options{})
	}},
	{name: "deployment", account: "deployment-controller", build: func(e env) (runner, error) {
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
	// Upstream's controllers, as libraries (see each package's doc).
	{name: "volumeattributesclass-protection", account: "volumeattributesclass-protection-controller",
		workers: vacprotection.Workers, build: func(e env) (runner, error) {
			return vacprotection.New(e.Deps, vacprotection.Options{})
		}},
	{name: "replicationcontroller", account: "replication-controller", workers: replication.Workers,
		build: func(e env) (runner, error) { return replication.New(e.Deps, replication.Options{}) }},
	{name: "daemonset", account: "daemon-set-controller", workers: daemonset.Workers,
		build: func(e env) (runner, error) { return daemonset.New(e.Deps, daemonset.Options{}) }},
	{name: "statefulset", account: "statefulset-controller", workers: statefulset.Workers,
		build: func(e env) (runner, error) { return statefulset.New(e.Deps, statefulset.Options{}) }},
	{name: "job", account: "job-controller", workers: job.Workers,
		build: func(e env) (runner, error) { return job.New(e.Deps, job.Options{}) }},
	{name: "cronjob", account: "cronjob-controller", workers: cronjob.Workers,
		build: func(e env) (runner, error) { return cronjob.New(e.Deps, cronjob.Options{}) }},
	{name: "ttl-after-finished", account: "ttl-after-finished-controller", workers: ttlafterfinished.Workers,
		build: func(e env) (runner, error) { return ttlafterfinished.New(e.Deps, ttlafterfinished.Options{}) }},
	{name: "disruption", account: "disruption-controller", workers: disruption.Workers,
		build: func(e env) (runner, error) { return disruption.New(e.Deps, disruption.Options{}) }},
	{name: "resourcequota", account: "resourcequota-controller", workers: resourcequota.Workers,
		build: func(e env) (runner, error) {
			return resourcequota.New(e.Deps, resourcequota.Options{MetadataInformers: e.metaInf, InformersStarted: e.started})
		}},
	{name: "podgc", account: "pod-garbage-collector", workers: 1,
		build: func(e env) (runner, error) { return podgc.New(e.Deps, podgc.Options{}) }},
	{name: "endpointslicemirroring", account: "endpointslicemirroring-controller", workers: endpointslicemirroring.Workers,
		build: func(e env) (runner, error) {
			return endpointslicemirroring.New(e.Deps, endpointslicemirroring.Options{})
		}},
	{name: "csrapproving", account: "certificate-controller", workers: csrapproving.Workers,
		build: func(e env) (runner, error) { return csrapproving.New(e.Deps, csrapproving.Options{}) }},
	{name: "csrsigning", account: "certificate-controller", workers: csrsigning.Workers,
		build: func(e env) (runner, error) {
			if e.cfg.SigningCertFile == "" {
				return idle{e.Log, "no signing CA in the configuration (SigningCertFile): CSRs are not signed"}, nil
			}
			return csrsigning.New(e.Deps, csrsigning.Options{CertFile: e.cfg.SigningCertFile, KeyFile: e.cfg.SigningKeyFile})
		}},
}

// idle is a controller the configuration leaves out: it says why once and
// waits for its context.
type idle struct {
	log *slog.Logger
	why string
}

func (i idle) Run(ctx context.Context, _ int) {
	i.log.Info("disabled", "reason", i.why)
	<-ctx.Done()
}

// Names lists the controllers a manager can run, in start order.
func Names() []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.name
	}
	return out
}
