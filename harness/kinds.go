package harness

import (
	"context"
	"fmt"
	"os"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kinns/kinns/controlplane/pki"
	"github.com/kinns/kinns/harness/topology"
)

// kind is one row of the component table: a kind of process the lab runs,
// one instance on each of its hosts, as `lab component <name> --config F`.
type kind struct {
	// name is the kind, and the `lab component` subcommand that runs it.
	name string
	// binary, if set, is a smaller executable beside the lab binary that
	// runs this kind too (`BINARY component NAME`), and is run instead when
	// it is there: a node's processes then map only their own code.
	binary string
	// hosts are where it runs, one instance on each.
	hosts func(*Lab) []topology.Host
	// instance names the instance on host h ("etcd-1", "kubelet/node-1").
	instance func(h topology.Host) string
	// identity is the certificate the instance on h talks to the API with;
	// nil: it has no kubeconfig.
	identity func(h topology.Host) pki.Identity
	// config is the instance's configuration, written as JSON; kubeconfig
	// is its identity's kubeconfig, or "".
	config func(l *Lab, h topology.Host, kubeconfig string) (any, error)
	// files, if set, are handed to the instance as fd 3, 4…
	files func(l *Lab) ([]*os.File, error)
	// spawnFiles, if set, are opened anew for each start of an instance
	// (restarts too) and handed to it after files.
	spawnFiles func(l *Lab) ([]*os.File, error)
	// ready, if set, waits until the instance on h serves; otherwise it
	// says so on its ready pipe.
	ready func(l *Lab, h topology.Host) func(ctx context.Context) error
	// timeout bounds an instance's start, up to ready.
	timeout time.Duration
	// onDemand kinds are not started at bring-up but by a fault (the link
	// delayer); they have no hosts and no config of their own here.
	onDemand bool
}

// kinds is the component table: every kind of process a lab runs. Adding a
// component is a row here (and its runner in cmd/lab) and a step in
// (*Lab).steps; a binary of its own is a main in cmd/ and a line in the
// Makefile's build.
var kinds = []kind{
	{name: "etcd", hosts: plan(topology.Plan.ControlPlane), instance: func(h topology.Host) string { return EtcdComponent(h.Index) },
		config: (*Lab).etcdConfig, timeout: 30 * time.Second},
	{name: "forward", hosts: plan(clientHost), instance: named(ComponentForward),
		config: (*Lab).forwardConfig, files: (*Lab).apiListener, timeout: 10 * time.Second},
	{name: "apilb", hosts: (*Lab).balancerHosts, instance: named(ComponentBalancer),
		config: (*Lab).balancerConfig, timeout: 10 * time.Second},
	{name: "apiserver", hosts: (*Lab).apiServerHosts, instance: func(h topology.Host) string { return APIServerComponent(h.Index) },
		config: (*Lab).apiServerConfig, ready: (*Lab).apiServerReady, timeout: 60 * time.Second},
	{name: "scheduler", hosts: (*Lab).controllerHosts, instance: func(h topology.Host) string { return SchedulerComponent(h.Index) },
		identity: as(pki.Scheduler), config: (*Lab).schedulerConfig, timeout: 30 * time.Second},
	{name: "controllers", hosts: (*Lab).controllerHosts, instance: func(h topology.Host) string { return ControllersComponent(h.Index) },
		identity: as(pki.ControllerManager), config: (*Lab).controllersConfig, timeout: 30 * time.Second},
	{name: "cloud", hosts: (*Lab).controllerHosts, instance: func(h topology.Host) string { return CloudComponent(h.Index) }, identity: as(pki.CloudControllerManager),
		config: (*Lab).cloudConfig, timeout: 30 * time.Second},
	{name: "dns", hosts: plan(topology.Plan.DNSHosts), instance: func(h topology.Host) string { return DNSComponent(h.Name) }, identity: as(pki.DNS),
		config: (*Lab).dnsConfig, timeout: 60 * time.Second},
	{name: "kubelet", binary: "lab-kubelet", hosts: plan(topology.Plan.Nodes), instance: func(h topology.Host) string { return KubeletComponent(h.Name) },
		identity: func(h topology.Host) pki.Identity { return pki.NodeIdentity(h.Name) },
		config:   (*Lab).kubeletConfig, spawnFiles: (*Lab).hostNetns, timeout: 30 * time.Second},
	{name: "proxy", binary: "lab-proxy", hosts: plan(topology.Plan.Nodes), instance: func(h topology.Host) string { return ProxyComponent(h.Name) }, identity: as(pki.Proxy),
		// Ready after its first sync, which waits for the API server it
		// starts alongside: its timeout covers the API server's too.
		config: (*Lab).proxyConfig, timeout: 90 * time.Second},
	{name: "delayer", onDemand: true, timeout: 10 * time.Second},
}

// plan adapts a function of the lab's topology to a row's hosts.
func plan(f func(topology.Plan) []topology.Host) func(*Lab) []topology.Host {
	return func(l *Lab) []topology.Host { return f(l.plan) }
}

// balancerHosts is the fabric, where the API balancer runs in a lab with
// three API servers; none with one.
func (l *Lab) balancerHosts() []topology.Host {
	if !l.HA() {
		return nil
	}
	return []topology.Host{l.fabricHost()}
}

// ComponentKinds lists the kinds of the component table, which `lab
// component` must each know how to run.
func ComponentKinds() []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = k.name
	}
	return out
}

func kindNamed(name string) kind {
	for _, k := range kinds {
		if k.name == name {
			return k
		}
	}
	panic("harness: no component kind " + name) // the step list names only rows of the table
}

func named(name string) func(topology.Host) string { return func(topology.Host) string { return name } }

func as(id pki.Identity) func(topology.Host) pki.Identity {
	return func(topology.Host) pki.Identity { return id }
}

func clientHost(p topology.Plan) []topology.Host {
	h, _ := p.Host("client")
	return []topology.Host{h}
}

// startKind starts every instance of a kind at once and waits until they
// are all ready.
func (l *Lab) startKind(ctx context.Context, name string) error {
	k := kindNamed(name)
	g, gctx := errgroup.WithContext(ctx)
	for _, h := range k.hosts(l) {
		c, err := l.instance(k, h)
		if err != nil {
			return fmt.Errorf("%s on %s: %w", k.name, h.Name, err)
		}
		g.Go(func() error {
			defer closeAll(c.files) // the process has its own copies
			return l.start(gctx, c, k.timeout)
		})
	}
	return g.Wait()
}

// instance is kind k's process on host h, its kubeconfig and configuration
// written.
func (l *Lab) instance(k kind, h topology.Host) (component, error) {
	kubeconfig := ""
	if k.identity != nil {
		var err error
		if kubeconfig, err = l.kubeconfigFor(k.identity(h)); err != nil {
			return component{}, err
		}
	}
	cfg, err := k.config(l, h, kubeconfig)
	if err != nil {
		return component{}, err
	}
	c, err := l.configured(k.instance(h), h.Name, k.name, cfg)
	if err != nil {
		return component{}, err
	}
	c.binary = k.binary
	if k.files != nil {
		if c.files, err = k.files(l); err != nil {
			return component{}, err
		}
	}
	if k.spawnFiles != nil {
		c.spawnFiles = func() ([]*os.File, error) { return k.spawnFiles(l) }
	}
	if k.ready != nil {
		c.ready, c.readyPipe = k.ready(l, h), false
	}
	return c, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
