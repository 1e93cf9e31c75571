package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kinns/kinns/harness/topology"
	kubeletconfig "github.com/kinns/kinns/kubelet/config"
	proxyconfig "github.com/kinns/kinns/proxy/config"
)

// KubeletComponent names the kubelet of a node.
func KubeletComponent(node string) string { return "kubelet/" + node }

// ProxyComponent names the Service proxy of a node.
func ProxyComponent(node string) string { return "proxy/" + node }

// Node sizes, unless Config says otherwise: each node reports its own capacity,
// never the host's.
const (
	DefaultNodeCPU    = "2"
	DefaultNodeMemory = "4Gi"
	DefaultNodePods   = "110"
)

func (l *Lab) kubeletConfig(n topology.Host, kubeconfig string) (any, error) {
	p := l.pki.Paths
	dir := l.nodeDir(n.Name)
	capacity := v1.ResourceList{
		v1.ResourceCPU:    resource.MustParse(orDefault(l.cfg.NodeCPU, DefaultNodeCPU)),
		v1.ResourceMemory: resource.MustParse(orDefault(l.cfg.NodeMemory, DefaultNodeMemory)),
		v1.ResourcePods:   resource.MustParse(DefaultNodePods),
	}
	registries, err := l.writeRegistryConfig()
	if err != nil {
		return nil, err
	}
	timings := kubeletconfig.TimingsFor(l.cfg.Timing)
	timings.TokenMaxAge = l.Profile().TokenMaxAge
	return kubeletconfig.Config{
		Kubeconfig: kubeconfig, NodeName: n.Name, NodeIP: n.IP.String(), PodCIDR: n.PodCIDR.String(),
		NodeNetns: n.Netns, Bridge: topology.NodeBridge,
		ContainerdAddress:   l.containerdAddress,
		ContainerdNamespace: topology.ContainerdNamespace(l.Name(), n.Name),
		CgroupParent:        LabCgroup(l.Name()) + "/" + n.Name,
		StateDir:            filepath.Join(dir, "state"), LogDir: filepath.Join(dir, "pods"),
		Capacity:   capacity,
		Timings:    timings,
		ImageGC:    l.imageGC(),
		ClusterDNS: []string{topology.ClusterDNS.String()}, ClusterDomain: topology.ClusterDomain,
		ServerAddress: ":10250", ServerCertFile: p.KubeletCert(n.Name), ServerKeyFile: p.KubeletKey(n.Name),
		ClientCAFile: p.CACert(),
		// The kubelet's only extra file: the host's namespace, for pulls.
		HostNetnsFD: 3, RegistryConfigDir: registries,
	}, nil
}

// imageGC is the kubelets' image GC policy: on the filesystem of the shared
// daemon's root; off on a containerd given by address, whose root is unknown.
func (l *Lab) imageGC() kubeletconfig.ImageGC {
	gc := kubeletconfig.ImageGC{HighThresholdPercent: l.cfg.ImageGCHighPercent, LowThresholdPercent: l.cfg.ImageGCLowPercent}
	if l.cfg.ContainerdAddress == "" || l.cfg.ContainerdAddress == l.daemon().Address() {
		gc.FS = l.daemon().DataRoot()
	}
	return gc
}

// nodeDir is node's folder in the lab's state: its kubelet's state (pod
// records) and its pods' logs.
func (l *Lab) nodeDir(node string) string { return l.store.Path(filepath.Join("nodes", node)) }

// kubeletStateDir is where node's kubelet keeps its records.
func (l *Lab) kubeletStateDir(node string) string { return filepath.Join(l.nodeDir(node), "state") }

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// proxyConfig is the configuration of node n's Service proxy; kubeconfig is
// the proxy identity's, shared by every node.
func (l *Lab) proxyConfig(n topology.Host, kubeconfig string) (any, error) {
	minSync, sync := proxyconfig.TimingFor(l.cfg.Timing)
	return proxyconfig.Config{
		Kubeconfig: kubeconfig, NodeName: n.Name, NodeIP: n.IP.String(), ClusterCIDR: topology.PodSubnet.String(),
		MinSyncPeriod: minSync, SyncPeriod: sync,
		HealthzAddress: ":10256", MetricsAddress: "127.0.0.1:10249",
	}, nil
}

// waitNodesReady polls the API until the cluster takes pods as a user
// expects right after `lab up`: every node reports Ready and carries none of
// the node lifecycle's taints (so the first pods may go to any node), and
// the default namespace has its ServiceAccount (without which pods are
// refused) and the kube-root-ca.crt ConfigMap (without which their service
// account volume cannot be made).
func (l *Lab) waitNodesReady(ctx context.Context, timeout time.Duration) error {
	cs, err := l.adminClient(0)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	want := len(l.plan.Nodes())
	for {
		missing := l.notUsable(ctx, cs, want)
		if missing == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lab not usable after %s: %s (see the logs in %s): %w", timeout, missing, l.store.Path("logs"), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// notUsable says what the cluster still lacks, or "" once it has it all.
func (l *Lab) notUsable(ctx context.Context, cs kubernetes.Interface, nodes int) string {
	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return "the API server does not answer: " + err.Error()
	}
	ready := 0
	for _, n := range list.Items {
		if isReady(&n) && !hasLifecycleTaint(&n) {
			ready++
		}
	}
	if ready < nodes {
		return fmt.Sprintf("%d of %d nodes Ready and untainted", ready, nodes)
	}
	if _, err := cs.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{}); err != nil {
		return "no default ServiceAccount yet (the controller manager makes it)"
	}
	if _, err := cs.CoreV1().ConfigMaps(metav1.NamespaceDefault).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{}); err != nil {
		return "no kube-root-ca.crt ConfigMap yet (the controller manager makes it)"
	}
	if !dnsReady(ctx, cs) {
		return "kube-dns has no ready endpoint yet"
	}
	return ""
}

// hasLifecycleTaint reports a not-ready or unreachable taint, which the node
// lifecycle controller removes a moment after the node reports Ready.
func hasLifecycleTaint(n *v1.Node) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == v1.TaintNodeNotReady || t.Key == v1.TaintNodeUnreachable {
			return true
		}
	}
	return false
}

func isReady(n *v1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == v1.NodeReady {
			return c.Status == v1.ConditionTrue
		}
	}
	return false
}

// RestartKubelet stops a node's kubelet gracefully and starts it again; its pods
// keep running and are adopted.
func (l *Lab) RestartKubelet(ctx context.Context, node string) error {
	name := KubeletComponent(node)
	if err := l.stop(ctx, name, 10*time.Second); err != nil {
		return err
	}
	return l.restart(ctx, name, 30*time.Second)
}

// hostNetns opens the host's network namespace (the one of the calling
// thread, which the supervisor never moves) for a kubelet to pull through.
func (l *Lab) hostNetns() ([]*os.File, error) {
	f, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return nil, fmt.Errorf("open the host's network namespace: %w", err)
	}
	return []*os.File{f}, nil
}
