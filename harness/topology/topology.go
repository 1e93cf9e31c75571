package topology

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
)

// Role says what a host is for.
type Role string

const (
	RoleControlPlane Role = "control-plane"
	RoleNode         Role = "node"
	RoleClient       Role = "client"
)

// Fixed parts of the address plan (DESIGN §2).
var (
	FabricSubnet  = netip.MustParsePrefix("10.89.0.0/24")
	PodSubnet     = netip.MustParsePrefix("10.244.0.0/16")
	ServiceSubnet = netip.MustParsePrefix("10.96.0.0/16")
	// ClusterDNS is the kube-dns Service's address, every pod's nameserver.
	ClusterDNS = netip.MustParseAddr("10.96.0.10")
	APIVIP     = netip.MustParseAddr("10.89.0.10")
	// FabricRouter is the address of the fabric's router (RouterLink in the
	// fabric namespace), which routes LoadBalancer addresses to nodes.
	FabricRouter = netip.MustParseAddr("10.89.0.1")
)

const (
	// FabricBridge is the "switch" inside the fabric namespace.
	FabricBridge = "fabric0"
	// RouterLink is the fabric's router, a veth inside the fabric namespace
	// whose peer RouterPort is a port of FabricBridge.
	RouterLink = "router"
	RouterPort = "router-port"
	// HostLink is every host's interface on the fabric.
	HostLink = "eth0"
	// NodeBridge is a node's pod bridge.
	NodeBridge = "cni0"
	// ControlPlaneHosts is how many cp-N hosts a lab has (one etcd member each).
	ControlPlaneHosts = 3
	// MaxNodes keeps node addresses (10.89.0.21 + i) below the client's 10.89.0.100.
	MaxNodes = 79
	// MaxNameLen bounds a lab name so that every derived name stays readable and
	// every containerd namespace (<lab>-node-NN) stays valid.
	MaxNameLen = 32
)

// Host is one network namespace of the lab that stands for a machine.
type Host struct {
	Name  string // "cp-1", "node-2", "client": the name users and the API use
	Role  Role
	Index int    // N in cp-N and node-N; 0 for the client
	Netns string // "<lab>-<name>", mounted at /run/netns
	// FabricLink is the name of this host's veth end inside the fabric namespace;
	// cutting it is what "link down" means.
	FabricLink string
	IP         netip.Addr   // address on HostLink
	PodCIDR    netip.Prefix // nodes only
	PodGateway netip.Addr   // nodes only: the address of NodeBridge
}

// IsNode reports whether the host runs a kubelet.
func (h Host) IsNode() bool { return h.Role == RoleNode }

// Route sends Dst through Via over HostLink.
type Route struct {
	Dst netip.Prefix
	Via netip.Addr
}

// Plan is the whole topology of one lab.
type Plan struct {
	Lab         string
	FabricNetns string
	Hosts       []Host
}

var nameRE = regexp.MustCompile(`^[a-z]([a-z0-9-]*[a-z0-9])?$`)

// ValidateName checks a lab name: lower-case letters, digits and '-', starting with
// a letter, at most MaxNameLen bytes.
func ValidateName(name string) error {
	if len(name) == 0 || len(name) > MaxNameLen || !nameRE.MatchString(name) {
		return fmt.Errorf("invalid lab name %q: use 1 to %d lower-case letters, digits or '-', starting with a letter and not ending with '-'", name, MaxNameLen)
	}
	return nil
}

// New plans a lab of the given name with the given number of nodes.
func New(lab string, nodes int) (Plan, error) {
	if err := ValidateName(lab); err != nil {
		return Plan{}, err
	}
	if nodes < 1 || nodes > MaxNodes {
		return Plan{}, fmt.Errorf("invalid node count %d: a lab has 1 to %d nodes", nodes, MaxNodes)
	}
	p := Plan{Lab: lab, FabricNetns: lab + "-fabric"}
	for i := 1; i <= ControlPlaneHosts; i++ {
		p.Hosts = append(p.Hosts, p.host("cp-"+strconv.Itoa(i), RoleControlPlane, i, fabricAddr(10+i)))
	}
	for i := 1; i <= nodes; i++ {
		h := p.host("node-"+strconv.Itoa(i), RoleNode, i, fabricAddr(20+i))
		h.PodCIDR = NodePodCIDR(i)
		h.PodGateway = h.PodCIDR.Addr().Next()
		p.Hosts = append(p.Hosts, h)
	}
	p.Hosts = append(p.Hosts, p.host("client", RoleClient, 0, fabricAddr(100)))
	return p, nil
}

func (p Plan) host(name string, role Role, index int, ip netip.Addr) Host {
	return Host{Name: name, Role: role, Index: index, Netns: p.Lab + "-" + name, FabricLink: name, IP: ip}
}

// NodePodCIDR is node-i's pod range: 10.244.i.0/24.
func NodePodCIDR(i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 244, byte(i), 0}), 24)
}

func fabricAddr(last int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 89, 0, byte(last)})
}

// Host finds a host by its name ("node-1") or by its namespace ("kinns-node-1").
func (p Plan) Host(name string) (Host, bool) {
	for _, h := range p.Hosts {
		if h.Name == name || h.Netns == name {
			return h, true
		}
	}
	return Host{}, false
}

// Nodes returns the hosts that run a kubelet, in index order.
func (p Plan) Nodes() []Host { return p.byRole(RoleNode) }

// ControlPlane returns cp-1..cp-3.
func (p Plan) ControlPlane() []Host { return p.byRole(RoleControlPlane) }

func (p Plan) byRole(r Role) []Host {
	var out []Host
	for _, h := range p.Hosts {
		if h.Role == r {
			out = append(out, h)
		}
	}
	return out
}

// HostNames lists every host name, for messages that say what is valid.
func (p Plan) HostNames() []string {
	names := make([]string, len(p.Hosts))
	for i, h := range p.Hosts {
		names[i] = h.Name
	}
	return names
}

// PodRoutes are the routes host h needs to reach the pods of every other node
// (host-gw style: each node's pod range via that node's fabric address). The
// client is an outside machine and gets none.
func (p Plan) PodRoutes(h Host) []Route {
	if h.Role == RoleClient {
		return nil
	}
	var rs []Route
	for _, n := range p.Nodes() {
		if n.Name != h.Name {
			rs = append(rs, Route{Dst: n.PodCIDR, Via: n.IP})
		}
	}
	return rs
}

// ServiceRoutes are the routes host h needs to send to Service addresses
// itself: a node's own programs (its kubelet's probes, `lab exec node-1 --
// curl`) reach a ClusterIP like its pods do, through the proxy's rules,
// but the kernel picks a route before those rules rewrite the
// destination, and a node has no default route. So nodes route the Service
// range onto the fabric link (Via is zero: a link route); the rules then
// send each connection to an endpoint. Other hosts run no proxy and get
// none: the API servers on cp hosts dial a webhook's or an aggregated API's
// endpoints (pod addresses, PodRoutes) rather than its ClusterIP.
func (p Plan) ServiceRoutes(h Host) []Route {
	if !h.IsNode() {
		return nil
	}
	return []Route{{Dst: ServiceSubnet}}
}

// ClusterDomain is the cluster's DNS domain.
const ClusterDomain = "cluster.local"

// DNSHosts are the control-plane hosts that run the cluster DNS: cp-2 and
// cp-3, so that cp-1 (API server, controllers) is not also its only home.
func (p Plan) DNSHosts() []Host {
	var hs []Host
	for _, h := range p.ControlPlane() {
		if h.Index >= 2 {
			hs = append(hs, h)
		}
	}
	return hs
}

// ContainerdNamespace is the containerd namespace of a node of lab.
func ContainerdNamespace(lab, node string) string { return lab + "-" + node }
