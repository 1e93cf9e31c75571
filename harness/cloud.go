package harness

import (
	"context"
	"fmt"
	"net/netip"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kinns/kinns/cni/netns"
	cloudconfig "github.com/kinns/kinns/controlplane/cloud/config"
	"github.com/kinns/kinns/harness/network"
	"github.com/kinns/kinns/harness/topology"
)

// The cloud controller manager (`lab component cloud`) runs beside each
// controller manager, one acting at a time (Lease
// kube-system/cloud-controller-manager): it gives LoadBalancer Services an
// address from the lab's pool and routes it, on the fabric, to the nodes
// that should answer (controlplane/cloud). It reaches the fabric namespace
// from its control-plane host as a cloud's controller reaches the cloud's
// network API; the fabric's router it routes through is made by the
// "lb-router" step.

// ComponentCloud names the cloud controller manager.
const ComponentCloud = "cloud-controller-manager"

// CloudComponent names the cloud controller manager of control-plane host n.
func CloudComponent(n int) string { return onHost(ComponentCloud, n) }

// CheckLoadBalancerPool says what is wrong with a pool ("FIRST-LAST"): its
// addresses must be on the fabric, where the client host and the router
// are, and above the hosts' (the client is 10.89.0.100), below broadcast.
func CheckLoadBalancerPool(pool string) error {
	first, last, err := cloudconfig.ParseRange(pool)
	if err != nil {
		return err
	}
	// The hosts' addresses end with the client's, .100; .255 is broadcast.
	lowest, highest := netip.AddrFrom4([4]byte{10, 89, 0, 101}), netip.AddrFrom4([4]byte{10, 89, 0, 254})
	if first.Less(lowest) || highest.Less(last) {
		return fmt.Errorf("address pool %s is not free on the fabric: use addresses from %s to %s (the default is %s)",
			pool, lowest, highest, cloudconfig.DefaultPool)
	}
	return nil
}

// LoadBalancerPool is the range the lab's LoadBalancer addresses come from.
func (l *Lab) LoadBalancerPool() string {
	if l.cfg.LoadBalancerPool != "" {
		return l.cfg.LoadBalancerPool
	}
	return cloudconfig.DefaultPool
}

func (l *Lab) cloudConfig(h topology.Host, kubeconfig string) (any, error) {
	return cloudconfig.Config{
		Kubeconfig: kubeconfig, Lab: l.Name(), Pool: l.LoadBalancerPool(),
		FabricNetns: netns.Path(l.plan.FabricNetns), Bridge: topology.FabricBridge, RouterLink: topology.RouterLink,
		LeaderElection: l.leaderElection(h),
	}, nil
}

// addRouter gives the fabric its router for LoadBalancer addresses.
func (l *Lab) addRouter(context.Context) error {
	return network.Builder{Record: l.store.Record, Log: l.log}.Router(l.plan)
}

// ensureCloudAddon gives the cloud controller manager's identity what the
// upstream cloud-controller-manager needs: Services and their status,
// Nodes, Events, and its Lease.
func (l *Lab) ensureCloudAddon(ctx context.Context) error {
	cs, err := l.adminClient(0)
	if err != nil {
		return err
	}
	return ensureCloudObjects(ctx, cs)
}

func ensureCloudObjects(ctx context.Context, cs kubernetes.Interface) error {
	const name = "system:cloud-controller-manager"
	all := []string{"get", "list", "watch", "create", "update", "patch"}
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"get", "list", "watch", "update", "patch"}},
			{APIGroups: []string{""}, Resources: []string{"services/status"}, Verbs: []string{"update", "patch"}},
			{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get", "list", "watch", "update", "patch"}},
			{APIGroups: []string{""}, Resources: []string{"nodes/status"}, Verbs: []string{"update", "patch"}},
			{APIGroups: []string{"", "events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "update", "patch"}},
			{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: all},
		},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: name}},
	}
	_, err := cs.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{})
	if err = ignoreExists(err); err == nil {
		_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{})
		err = ignoreExists(err)
	}
	if err != nil {
		return fmt.Errorf("cloud controller manager addon: %w", err)
	}
	return nil
}
