package harness

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	dnsconfig "github.com/kinns/kinns/controlplane/dns/config"
	"github.com/kinns/kinns/harness/topology"
)

// DNSComponent names the cluster DNS instance on a control-plane host.
func DNSComponent(host string) string { return "dns/" + host }

// ensureDNSAddon gives the cluster what its DNS needs in the API, as a
// kubeadm addon would: the system:coredns role and its binding, and the
// kube-dns Service; the dns row of the component table then runs CoreDNS
// on each DNS host.
func (l *Lab) ensureDNSAddon(ctx context.Context) error {
	cs, err := l.adminClient(0)
	if err != nil {
		return err
	}
	return ensureDNSObjects(ctx, cs)
}

func (l *Lab) dnsConfig(_ topology.Host, kubeconfig string) (any, error) {
	return dnsconfig.Config{Kubeconfig: kubeconfig, Domain: topology.ClusterDomain, Upstream: l.cfg.DNSUpstream}, nil
}

// DNSServers are the addresses of the DNS instances.
func (l *Lab) DNSServers() []string {
	var ips []string
	for _, h := range l.plan.DNSHosts() {
		ips = append(ips, h.IP.String())
	}
	return ips
}

// ensureDNSObjects creates what the cluster DNS needs in the API, leaving
// alone what exists.
func ensureDNSObjects(ctx context.Context, cs kubernetes.Interface) error {
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "system:coredns"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"endpoints", "services", "pods", "namespaces"}, Verbs: []string{"list", "watch"}},
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
		},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "system:coredns"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:coredns"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "system:coredns"}},
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: dnsconfig.Service, Namespace: dnsconfig.Namespace, Labels: map[string]string{
			"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS",
		}},
		Spec: corev1.ServiceSpec{
			ClusterIP: topology.ClusterDNS.String(), ClusterIPs: []string{topology.ClusterDNS.String()},
			Ports: []corev1.ServicePort{
				{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53, TargetPort: intstr.FromInt32(53)},
				{Name: "dns-tcp", Protocol: corev1.ProtocolTCP, Port: 53, TargetPort: intstr.FromInt32(53)},
				{Name: "metrics", Protocol: corev1.ProtocolTCP, Port: 9153, TargetPort: intstr.FromInt32(9153)},
			},
		},
	}
	_, err := cs.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{})
	if err = ignoreExists(err); err == nil {
		_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{})
		err = ignoreExists(err)
	}
	if err == nil {
		_, err = cs.CoreV1().Services(svc.Namespace).Create(ctx, svc, metav1.CreateOptions{})
		err = ignoreExists(err)
	}
	if err != nil {
		return fmt.Errorf("cluster DNS addon: %w", err)
	}
	return nil
}

func ignoreExists(err error) error {
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// dnsReady says whether kube-dns has a ready endpoint.
func dnsReady(ctx context.Context, cs kubernetes.Interface) bool {
	s, err := cs.DiscoveryV1().EndpointSlices(dnsconfig.Namespace).Get(ctx, dnsconfig.SliceName, metav1.GetOptions{})
	if err != nil {
		return false
	}
	for _, e := range s.Endpoints {
		if e.Conditions.Ready != nil && *e.Conditions.Ready {
			return true
		}
	}
	return false
}

// KillDNS kills the DNS instance on host (cp-2, cp-3) as a crash would.
func (l *Lab) KillDNS(ctx context.Context, host string) error {
	return l.stop(ctx, DNSComponent(host), 0)
}

// StartDNS starts a stopped DNS instance again.
func (l *Lab) StartDNS(ctx context.Context, host string) error {
	return l.StartComponent(ctx, DNSComponent(host))
}
