package linkfault

import "github.com/kinns/kinns/harness/topology"

// Target is one host's link: a veth pair with one end inside the host and the
// other in the fabric. Namespaces are names under /run/netns.
type Target struct {
	HostNetns   string // "kinns-node-1"
	HostLink    string // topology.HostLink
	FabricNetns string // "kinns-fabric"
	FabricLink  string // the host's port on the fabric bridge
}

// TargetOf is a lab host's link.
func TargetOf(p topology.Plan, h topology.Host) Target {
	return Target{HostNetns: h.Netns, HostLink: topology.HostLink, FabricNetns: p.FabricNetns, FabricLink: h.FabricLink}
}

// end is one end of the veth pair.
type end struct{ Netns, Link string }

func (t Target) host() end   { return end{t.HostNetns, t.HostLink} }
func (t Target) fabric() end { return end{t.FabricNetns, t.FabricLink} }

// ends lists both ends, the host's first.
func (t Target) ends() []end { return []end{t.host(), t.fabric()} }

func (e end) String() string { return e.Link + " in " + e.Netns }
