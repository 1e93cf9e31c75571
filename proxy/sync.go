package proxy

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"

	"github.com/kinns/kinns/proxy/rules"
)

// syncer writes the node's rules from the informers' caches. One sync reads
// what is there, renders the whole desired state, applies it in one
// iptables-restore, then clears what the change left in conntrack and
// updates the health check node ports. Only the sync loop calls it.
type syncer struct {
	cfg      parsed
	ipt      IPTables
	ct       Conntrack
	services corelisters.ServiceLister
	slices   discoverylisters.EndpointSliceLister
	health   *healthChecks
	metrics  *metrics
	now      func() time.Time

	// lastUDP is what the previous sync's rules sent UDP traffic to.
	lastUDP map[udpKey][]netip.AddrPort
	// lastTCP is every endpoint the previous sync's rules sent TCP to.
	lastTCP []netip.AddrPort
	// lastRules is how many rules the last sync wrote.
	lastRules int
}

// udpKey names one UDP service port.
type udpKey struct {
	ip   netip.Addr
	port int32
}

func (s *syncer) sync(ctx context.Context) error {
	start := s.now()
	svcs, err := s.services.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list services: %w", err)
	}
	eps, err := s.slices.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list endpoint slices: %w", err)
	}
	existing, missing, err := s.read(ctx)
	if err != nil {
		return err
	}
	out := rules.Render(s.renderConfig(), svcs, eps, existing)
	// Health check ports first: by the time the rules send outside traffic
	// to this node's endpoints, its health check already says so.
	s.health.set(out.HealthChecks)
	if err := s.ipt.Restore(ctx, withJumps(out.Text, missing)); err != nil {
		return fmt.Errorf("apply %d rules: %w", out.Rules, err)
	}
	s.clearStaleUDP(out.UDP)
	s.clearUnansweredTCP(out.TCPEndpoints, out.TCPServices)
	s.lastRules = out.Rules
	s.metrics.synced(s.now().Sub(start), out, eps)
	return nil
}

func (s *syncer) renderConfig() rules.Config {
	return rules.Config{NodeName: s.cfg.NodeName, NodeIPs: []netip.Addr{s.cfg.nodeIP}, ClusterCIDR: s.cfg.clusterCIDR}
}

// read returns the chains each table has and the jumps into ours that are
// missing from the built-in chains, as restore lines by table.
func (s *syncer) read(ctx context.Context) (rules.Existing, map[string][]string, error) {
	var existing rules.Existing
	missing := map[string][]string{}
	got := map[string]saved{}
	for _, t := range tables {
		text, err := s.ipt.Save(ctx, t)
		if err != nil {
			return existing, nil, err
		}
		got[t] = parseSave(text)
	}
	existing.Filter, existing.NAT = got["filter"].chains, got["nat"].chains
	for _, j := range rules.Jumps() {
		if !got[j.Table].jumps[[2]string{j.Chain, target(j.Args)}] {
			missing[j.Table] = append(missing[j.Table], "-I "+j.Chain+" 1 "+restoreArgs(j.Args))
		}
	}
	return existing, missing, nil
}

// target is the chain a jump's arguments lead to.
func target(args []string) string {
	if i := slices.Index(args, "-j"); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

// withJumps adds the missing jump lines to each table's section, before
// its COMMIT, after the chains they lead to are declared.
func withJumps(text []byte, missing map[string][]string) []byte {
	if len(missing) == 0 {
		return text
	}
	var out bytes.Buffer
	table := ""
	for line := range bytes.Lines(text) {
		trimmed := bytes.TrimSpace(line)
		switch {
		case bytes.HasPrefix(trimmed, []byte("*")):
			table = string(trimmed[1:])
		case bytes.Equal(trimmed, []byte("COMMIT")):
			for _, j := range missing[table] {
				out.WriteString(j + "\n")
			}
		}
		out.Write(line)
	}
	return out.Bytes()
}

// clearStaleUDP removes conntrack entries that would keep sending a UDP
// flow where the rules no longer do: to an endpoint that is gone, or to
// nowhere (entries made while the port had no endpoints, which would
// otherwise hold the client's flow after endpoints appear). TCP needs none
// of this: a connection to a gone endpoint fails and the client reconnects.
func (s *syncer) clearStaleUDP(now []rules.UDPService) {
	next := map[udpKey][]netip.AddrPort{}
	for _, u := range now {
		for _, ip := range u.ClusterIPs {
			next[udpKey{ip, u.Port}] = u.Endpoints
		}
	}
	for k, eps := range next {
		old, seen := s.lastUDP[k]
		if seen && len(old) == 0 && len(eps) > 0 {
			s.clear(s.ct.ClearService(k.ip, k.port), "service", k.ip.String())
		}
		for _, ep := range old {
			if !slices.Contains(eps, ep) {
				s.clear(s.ct.ClearEndpoint(ep), "endpoint", ep.String())
			}
		}
	}
	for k, old := range s.lastUDP {
		if _, ok := next[k]; !ok {
			for _, ep := range old {
				s.clear(s.ct.ClearEndpoint(ep), "endpoint", ep.String())
			}
		}
	}
	s.lastUDP = next
}

// clearUnansweredTCP removes the unanswered TCP connection attempts that
// the rules would not make now: to the endpoints they stopped using, and to
// the Services they DNAT that no rule DNATed when they were made (see
// NetlinkConntrack.ClearUnansweredTCP for why). Both lists are sorted, as
// the renderer gives them.
func (s *syncer) clearUnansweredTCP(endpoints, services []netip.AddrPort) {
	var gone []netip.AddrPort
	for _, ep := range s.lastTCP {
		if _, found := slices.BinarySearchFunc(endpoints, ep, netip.AddrPort.Compare); !found {
			gone = append(gone, ep)
		}
	}
	if err := s.ct.ClearUnansweredTCP(gone, services); err != nil {
		s.cfg.Log.Warn("clear unanswered TCP conntrack entries", "gone", len(gone), "services", len(services), "err", err)
	}
	s.lastTCP = endpoints
}

func (s *syncer) clear(err error, what, addr string) {
	if err != nil {
		s.cfg.Log.Warn("clear UDP conntrack entries", what, addr, "err", err)
	}
}
