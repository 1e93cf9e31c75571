package cloud

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	cloudprovider "k8s.io/cloud-provider"
)

// ProviderName is the provider's name, the scheme of its providerIDs.
const ProviderName = "kinns"

// Provider is the lab's cloud as the upstream cloud-provider library sees
// it: load balancers whose addresses come from Pool and are routed by the
// fabric (see Routes and Fabric), and instances that are the lab's nodes.
// Its LoadBalancer methods only record what each Service needs and ask
// for a sync (the caller's loop routes); EnsureLoadBalancerDeleted syncs
// at once, so an address is never handed out again while still routed to
// the old Service's nodes.
type Provider struct {
	lab  string
	pool *Pool
	// sync routes the fabric now (the controller's router.sync).
	sync func(ctx context.Context) error
	// nudge asks the controller's loop for a sync soon.
	nudge func()
	// retry asks the service controller to sync these Services again now
	// (see retryingInformer).
	retry func(keys []string)

	mu        sync.Mutex
	balancers map[string]Balancer
	// waiting are the Services the pool had no address for.
	waiting map[string]bool
}

var (
	_ cloudprovider.Interface    = (*Provider)(nil)
	_ cloudprovider.LoadBalancer = (*Provider)(nil)
	_ cloudprovider.InstancesV2  = (*Provider)(nil)
)

// NewProvider is the cloud of lab with addresses from pool.
func NewProvider(lab string, pool *Pool) *Provider {
	return &Provider{lab: lab, pool: pool, balancers: map[string]Balancer{}, waiting: map[string]bool{},
		sync: func(context.Context) error { return nil }, nudge: func() {}, retry: func([]string) {}}
}

// Balancers lists the load balancers now, sorted by key.
func (p *Provider) Balancers() []Balancer {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Balancer, 0, len(p.balancers))
	for _, b := range p.balancers {
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b Balancer) int { return cmp.Compare(a.Key, b.Key) })
	return out
}

// Seed takes up a Service that already has an address from the pool in
// its status, as it was before this controller started: it keeps that
// address and is routed to nodes (every node offered, until the service
// controller says otherwise). It reports whether the Service holds the
// address now.
func (p *Provider) Seed(svc *corev1.Service, nodes []string) bool {
	a, ok := statusAddr(svc)
	if !ok || !p.pool.Seed(key(svc), a) {
		return false
	}
	p.set(svc, a, nodes)
	return true
}

func (p *Provider) set(svc *corev1.Service, a netip.Addr, nodes []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.balancers[key(svc)] = Balancer{Key: key(svc), Addr: a, Nodes: nodes, HealthCheckNodePort: healthCheckPort(svc)}
}

// GetLoadBalancer reports the Service's address, if it holds one.
func (p *Provider) GetLoadBalancer(_ context.Context, _ string, svc *corev1.Service) (*corev1.LoadBalancerStatus, bool, error) {
	a, ok := p.pool.Lookup(key(svc))
	if !ok {
		return nil, false, nil
	}
	return status(a), true, nil
}

// GetLoadBalancerName names the Service's load balancer.
func (p *Provider) GetLoadBalancerName(_ context.Context, _ string, svc *corev1.Service) string {
	return fmt.Sprintf("%s/%s/%s", p.lab, svc.Namespace, svc.Name)
}

// EnsureLoadBalancer gives the Service an address (the one its status
// has, if it is free) and routes it to nodes. An exhausted pool is an
// error: the Service stays pending, and the service controller records
// the error as a Warning event and tries again later.
func (p *Provider) EnsureLoadBalancer(_ context.Context, _ string, svc *corev1.Service, nodes []*corev1.Node) (*corev1.LoadBalancerStatus, error) {
	prefer, _ := statusAddr(svc)
	a, err := p.pool.Allocate(key(svc), prefer)
	p.setWaiting(key(svc), err != nil)
	if err != nil {
		return nil, fmt.Errorf("no address for %s: %w", key(svc), err)
	}
	p.set(svc, a, nodeNames(nodes))
	p.nudge()
	return status(a), nil
}

// UpdateLoadBalancer takes the nodes the Service may be routed to.
func (p *Provider) UpdateLoadBalancer(_ context.Context, _ string, svc *corev1.Service, nodes []*corev1.Node) error {
	a, ok := p.pool.Lookup(key(svc))
	if !ok {
		return fmt.Errorf("update load balancer of %s: it has no address", key(svc))
	}
	p.set(svc, a, nodeNames(nodes))
	p.nudge()
	return nil
}

// EnsureLoadBalancerDeleted removes the Service's route, then frees its
// address and has the Services that wait for one tried again at once
// (the service controller would only after its back-off, up to 5 min).
func (p *Provider) EnsureLoadBalancerDeleted(ctx context.Context, _ string, svc *corev1.Service) error {
	p.mu.Lock()
	delete(p.balancers, key(svc))
	delete(p.waiting, key(svc))
	p.mu.Unlock()
	if err := p.sync(ctx); err != nil {
		return fmt.Errorf("remove the route of %s: %w", key(svc), err)
	}
	if _, freed := p.pool.Release(key(svc)); freed {
		p.retry(p.waitingKeys())
	}
	return nil
}

func (p *Provider) setWaiting(key string, waiting bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if waiting {
		p.waiting[key] = true
	} else {
		delete(p.waiting, key)
	}
}

func (p *Provider) waitingKeys() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	keys := make([]string, 0, len(p.waiting))
	for k := range p.waiting {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ProviderID is node's providerID in lab: kinns://<lab>/<node>.
func ProviderID(lab, node string) string { return ProviderName + "://" + lab + "/" + node }

// InstanceExists is true: a lab's nodes are its hosts, which the cloud
// never deletes (a node powered off is shut down, not gone).
func (p *Provider) InstanceExists(context.Context, *corev1.Node) (bool, error) { return true, nil }

// InstanceShutdown is false: the lab's faults, not the cloud, power nodes off.
func (p *Provider) InstanceShutdown(context.Context, *corev1.Node) (bool, error) { return false, nil }

// InstanceMetadata is the node's providerID and type; its addresses are
// the ones its kubelet reports (the fabric address, its name).
func (p *Provider) InstanceMetadata(_ context.Context, node *corev1.Node) (*cloudprovider.InstanceMetadata, error) {
	return &cloudprovider.InstanceMetadata{
		ProviderID: ProviderID(p.lab, node.Name), InstanceType: "kinns-node",
		NodeAddresses: slices.Clone(node.Status.Addresses),
	}, nil
}

// Initialize starts nothing: the controller runs the routing loop.
func (p *Provider) Initialize(cloudprovider.ControllerClientBuilder, <-chan struct{}) {}

func (p *Provider) LoadBalancer() (cloudprovider.LoadBalancer, bool) { return p, true }
func (p *Provider) Instances() (cloudprovider.Instances, bool)       { return nil, false }
func (p *Provider) InstancesV2() (cloudprovider.InstancesV2, bool)   { return p, true }
func (p *Provider) Zones() (cloudprovider.Zones, bool)               { return nil, false }
func (p *Provider) Clusters() (cloudprovider.Clusters, bool)         { return nil, false }
func (p *Provider) Routes() (cloudprovider.Routes, bool)             { return nil, false }
func (p *Provider) ProviderName() string                             { return ProviderName }
func (p *Provider) HasClusterID() bool                               { return true }

func key(svc *corev1.Service) string {
	return types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}.String()
}

// statusAddr is the first IPv4 ingress address of the Service's status.
func statusAddr(svc *corev1.Service) (netip.Addr, bool) {
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if a, err := netip.ParseAddr(in.IP); err == nil && a.Is4() {
			return a, true
		}
	}
	return netip.Addr{}, false
}

func healthCheckPort(svc *corev1.Service) int32 {
	if svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
		return svc.Spec.HealthCheckNodePort
	}
	return 0
}

func status(a netip.Addr) *corev1.LoadBalancerStatus {
	vip := corev1.LoadBalancerIPModeVIP
	return &corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: a.String(), IPMode: &vip}}}
}

func nodeNames(nodes []*corev1.Node) []string {
	out := make([]string, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, n.Name)
	}
	slices.Sort(out)
	return out
}
