package harness

import (
	"context"
	"fmt"
	"time"

	"github.com/kinns/kinns/controlplane/pki"
	"github.com/kinns/kinns/harness/network"
	"github.com/kinns/kinns/harness/state"
	"github.com/kinns/kinns/harness/steps"
	"github.com/kinns/kinns/harness/topology"
)

// steps is the lab's bring-up: each step runs once those it comes after
// are done, independent ones at once. A component's step starts its row of
// the component table (kinds).
func (l *Lab) steps() []steps.Step {
	list := []steps.Step{
		{Name: "network", Run: l.buildNetwork},
		{Name: "containerd", Run: l.startContainerd},
	}
	if l.cfg.NetworkOnly {
		return list
	}
	return append(list,
		steps.Step{Name: "images", After: []string{"containerd"}, Run: l.importTestImage},
		steps.Step{Name: "pki", Run: l.makePKI},
		steps.Step{Name: "etcd", After: []string{"network", "pki"}, Run: l.kindStep("etcd", "etcd: 3 members on cp-1..cp-3")},
		steps.Step{Name: "forward", After: []string{"network"}, Run: l.kindStep("forward", "")},
		steps.Step{Name: "vip", After: []string{"network"}, Run: l.whenHA(l.addVIP)},
		steps.Step{Name: "apilb", After: []string{"vip", "pki"}, Run: l.kindStep("apilb", "")},
		// The API server starts with etcd, not after it: its own start
		// (configuration, API groups, OpenAPI: about 1.5 s here) runs
		// while the members elect a leader, and its store's relay takes
		// each member once it answers.
		steps.Step{Name: "apiserver", After: []string{"network", "pki", "forward", "apilb"}, Run: l.startAPIServer},
		// The API's clients start with etcd, while the API server boots:
		// each waits for its readiness (apiready), so their own start-up
		// (process, caches, the kubelet's containers) is off the critical
		// path.
		steps.Step{Name: "scheduler", After: []string{"etcd"}, Run: l.kindStep("scheduler", "")},
		steps.Step{Name: "controllers", After: []string{"etcd"}, Run: l.kindStep("controllers", "scheduler, controller manager and cloud controller manager on cp-1")},
		steps.Step{Name: "lb-router", After: []string{"network"}, Run: l.addRouter},
		steps.Step{Name: "cloud-addon", After: []string{"apiserver"}, Run: l.ensureCloudAddon},
		steps.Step{Name: "cloud", After: []string{"cloud-addon", "lb-router"}, Run: l.kindStep("cloud", "")},
		steps.Step{Name: "dns-addon", After: []string{"apiserver"}, Run: l.ensureDNSAddon},
		steps.Step{Name: "storage-addon", After: []string{"apiserver"}, Run: l.ensureStorageAddon},
		steps.Step{Name: "dns", After: []string{"dns-addon"}, Run: l.kindStep("dns", "")},
		steps.Step{Name: "node-cgroup", Run: l.recordNodeCgroup},
		steps.Step{Name: "kubelets", After: []string{"etcd", "containerd", "node-cgroup"},
			Run: l.kindStep("kubelet", fmt.Sprintf("kubelets and proxies on node-1..node-%d, DNS on cp-2 and cp-3", len(l.plan.Nodes())))},
		steps.Step{Name: "proxies", After: []string{"etcd"}, Run: l.kindStep("proxy", "")},
		// Waiting for a usable cluster starts with the API: nodes register
		// while the add-ons, DNS and the cloud controller start, and the
		// lab is ready when every step is done.
		steps.Step{Name: "usable", After: []string{"apiserver", "kubelets", "proxies", "scheduler", "controllers"}, Run: l.waitUsable},
	)
}

// bringUp runs the steps and marks the lab ready.
func (l *Lab) bringUp(ctx context.Context) error {
	start := time.Now()
	done := func(d steps.Done) {
		l.log.Info("bring-up step", "step", d.Name, "start", d.Start.Round(time.Millisecond), "took", d.Took.Round(time.Millisecond), "err", d.Err)
	}
	if err := steps.Run(ctx, l.steps(), done); err != nil {
		return err
	}
	if err := l.store.UpdateMeta(func(m *state.Meta) {
		m.Ready = true
		m.ContainerdAddress = l.containerdAddress
	}); err != nil {
		return err
	}
	l.log.Info("lab ready", "took", time.Since(start))
	return nil
}

// kindStep starts a row of the component table, saying progress first if
// there is something to say.
func (l *Lab) kindStep(name, progress string) func(context.Context) error {
	return func(ctx context.Context) error {
		if progress != "" {
			l.cfg.Progress(progress)
		}
		return l.startKind(ctx, name)
	}
}

func (l *Lab) buildNetwork(ctx context.Context) error {
	l.cfg.Progress(fmt.Sprintf("network: %d hosts on fabric %s", len(l.plan.Hosts), topology.FabricSubnet))
	t := time.Now()
	if err := (network.Builder{Record: l.store.Record, Log: l.log}).Build(ctx, l.plan); err != nil {
		return err
	}
	l.log.Info("network ready", "hosts", len(l.plan.Hosts), "took", time.Since(t))
	return nil
}

func (l *Lab) makePKI(ctx context.Context) error {
	l.cfg.Progress("pki: lab and etcd CAs, certificates, Secrets' encryption key")
	b, err := pki.Generate(ctx, pki.Config{Lab: l.Name(), Dir: l.PKIPaths().Dir, Nodes: l.pkiNodes(), EtcdMembers: l.etcdMembers(), Logger: l.log})
	if err != nil {
		return err
	}
	l.pki = b
	return nil
}

// startAPIServer starts the API server and writes the admin kubeconfig.
func (l *Lab) startAPIServer(ctx context.Context) error {
	if l.HA() {
		l.cfg.Progress(fmt.Sprintf("api servers on cp-1..cp-%d behind %s, reachable at %s", len(l.apiServerHosts()), topology.APIVIP, l.APIServerURL()))
	} else {
		l.cfg.Progress("api server on cp-1, reachable at " + l.APIServerURL())
	}
	if err := l.startKind(ctx, "apiserver"); err != nil {
		return err
	}
	return pki.WriteKubeconfig(l.KubeconfigPath(), l.pki, pki.Admin, l.APIServerURL())
}

// recordNodeCgroup records the cgroup the kubelets make their pods' in, so
// teardown removes it.
func (l *Lab) recordNodeCgroup(context.Context) error {
	return l.store.Record(state.Resource{Kind: state.KindCgroup, Name: LabCgroup(l.Name())})
}

// waitUsable waits until the cluster takes pods as a user expects.
func (l *Lab) waitUsable(ctx context.Context) error {
	l.cfg.Progress(fmt.Sprintf("waiting for %d nodes to be Ready", len(l.plan.Nodes())))
	return l.waitNodesReady(ctx, 60*time.Second)
}

// whenHA runs step only in a lab with three API servers.
func (l *Lab) whenHA(step func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		if !l.HA() {
			return nil
		}
		return step(ctx)
	}
}
