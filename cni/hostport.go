package cni

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/kinns/kinns/cni/netns"
)

// PortMapping is one host port of a pod, as a CNI runtimeConfig's
// portMappings: traffic to HostIP:HostPort on the node goes to the pod's
// ContainerPort.
type PortMapping struct {
	// HostIP is the node address the port is bound to; the zero Addr or
	// 0.0.0.0 mean every local address of the node.
	HostIP        netip.Addr
	HostPort      int32
	ContainerPort int32
	// Protocol is "tcp", "udp" or "sctp" (any case); "" is tcp.
	Protocol string
}

func (m PortMapping) proto() string {
	if m.Protocol == "" {
		return "tcp"
	}
	return strings.ToLower(m.Protocol)
}

func (m PortMapping) validate() error {
	switch {
	case m.HostPort < 1 || m.HostPort > 65535:
		return fmt.Errorf("host port %d is out of 1..65535", m.HostPort)
	case m.ContainerPort < 1 || m.ContainerPort > 65535:
		return fmt.Errorf("container port %d is out of 1..65535", m.ContainerPort)
	case m.HostIP.IsValid() && !m.HostIP.Is4():
		return fmt.Errorf("host IP %s is not IPv4", m.HostIP)
	}
	switch m.proto() {
	case "tcp", "udp", "sctp":
		return nil
	}
	return fmt.Errorf("protocol %q is not tcp, udp or sctp", m.Protocol)
}

// Chains of the host ports, in the node's nat table. Their prefix is not the
// proxy's (KINNS-), whose sync deletes every chain of that prefix it did not
// render.
const (
	hostPortPrefix = "KINNSHP-"
	// chainHostPorts holds one jump per pod with host ports; PREROUTING and
	// OUTPUT send it the traffic to local addresses.
	chainHostPorts = hostPortPrefix + "DNAT"
	// chainHostPortMasq masquerades what the pod chains marked: a pod
	// reaching itself through its host port (hairpin), and connections from
	// 127.0.0.1, which cannot leave the node's loopback with that source.
	chainHostPortMasq = hostPortPrefix + "MASQ"
	// hostPortMark is the mark bit of chainHostPortMasq: not the proxy's
	// 0x4000.
	hostPortMark = "0x2000/0x2000"
)

// hostPortJumps are the rules that send traffic from the built-in chains to
// ours, first in each.
var hostPortJumps = []struct{ chain, rule string }{
	{"PREROUTING", "-m addrtype --dst-type LOCAL -j " + chainHostPorts},
	{"OUTPUT", "-m addrtype --dst-type LOCAL -j " + chainHostPorts},
	{"POSTROUTING", "-j " + chainHostPortMasq},
}

// hostPortChain is the chain of the pod with this UID: the prefix and 16
// base32 characters of the UID's hash, 24 characters (iptables allows 28).
func hostPortChain(uid string) string {
	sum := sha256.Sum256([]byte(uid))
	return hostPortPrefix + base32.StdEncoding.EncodeToString(sum[:])[:16]
}

// hostPortChange is what one Add or Del asks of the host port rules: the
// pod's mappings to podIP, or none (Del, or a pod without host ports).
type hostPortChange struct {
	pod   PodRef
	podIP netip.Addr
	ports []PortMapping
}

// renderHostPorts is the input of one `iptables-restore --noflush` that
// makes the nat table, whose `iptables-save -t nat` is saved, hold the
// pod's host port rules as c says, leaving every other pod's as they are.
// It returns nil when nothing needs to change. It is pure.
func renderHostPorts(saved string, c hostPortChange) []byte {
	chain := hostPortChain(c.pod.UID)
	chains, rules := parseNAT(saved)
	others := slices.DeleteFunc(slices.Clone(rules[chainHostPorts]), func(r string) bool {
		return strings.HasSuffix(r, " -j "+chain)
	})
	if len(c.ports) == 0 && !chains[chain] && len(others) == len(rules[chainHostPorts]) {
		return nil // nothing of this pod's, and nothing to make
	}
	var b strings.Builder
	b.WriteString("*nat\n")
	fmt.Fprintf(&b, ":%s - [0:0]\n:%s - [0:0]\n", chainHostPorts, chainHostPortMasq)
	if len(c.ports) > 0 || chains[chain] {
		fmt.Fprintf(&b, ":%s - [0:0]\n", chain)
	}
	for _, j := range hostPortJumps {
		if !slices.Contains(rules[j.chain], j.rule) {
			fmt.Fprintf(&b, "-I %s 1 %s\n", j.chain, j.rule)
		}
	}
	fmt.Fprintf(&b, "-A %s -m mark --mark %s -j MASQUERADE\n", chainHostPortMasq, hostPortMark)
	// The newest pod first: while a deleted pod's rules wait for its Del,
	// its successor on the same port already gets the traffic.
	if len(c.ports) > 0 {
		fmt.Fprintf(&b, "-A %s -m comment --comment %s -j %s\n", chainHostPorts, strconv.Quote(c.pod.String()+" "+c.pod.UID), chain)
	}
	for _, r := range others {
		fmt.Fprintf(&b, "-A %s %s\n", chainHostPorts, r)
	}
	if len(c.ports) > 0 {
		for _, m := range c.ports {
			writePodHostPort(&b, chain, c.podIP, m)
		}
	} else if chains[chain] {
		fmt.Fprintf(&b, "-X %s\n", chain)
	}
	b.WriteString("COMMIT\n")
	return []byte(b.String())
}

// writePodHostPort writes one mapping's rules: mark the pod's own traffic
// (hairpin) and 127.0.0.1's for masquerade, then DNAT.
func writePodHostPort(b *strings.Builder, chain string, podIP netip.Addr, m PortMapping) {
	match := "-p " + m.proto()
	if m.HostIP.IsValid() && !m.HostIP.IsUnspecified() {
		match += " -d " + m.HostIP.String() + "/32"
	}
	match += fmt.Sprintf(" -m %s --dport %d", m.proto(), m.HostPort)
	for _, src := range []string{podIP.String(), "127.0.0.1"} {
		fmt.Fprintf(b, "-A %s %s -s %s/32 -j MARK --set-xmark %s\n", chain, match, src, hostPortMark)
	}
	to := netip.AddrPortFrom(podIP, uint16(m.ContainerPort))
	fmt.Fprintf(b, "-A %s %s -j DNAT --to-destination %s\n", chain, match, to)
}

// parseNAT reads `iptables-save -t nat`: the chains it declares, and each
// chain's rules as they follow "-A CHAIN ".
func parseNAT(saved string) (map[string]bool, map[string][]string) {
	chains, rules := map[string]bool{}, map[string][]string{}
	for line := range strings.Lines(saved) {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, ":"):
			if name, _, ok := strings.Cut(line[1:], " "); ok {
				chains[name] = true
			}
		case strings.HasPrefix(line, "-A "):
			if name, rule, ok := strings.Cut(line[3:], " "); ok {
				rules[name] = append(rules[name], rule)
			}
		}
	}
	return chains, rules
}

func checkPorts(ports []PortMapping) error {
	for _, m := range ports {
		if err := m.validate(); err != nil {
			return fmt.Errorf("port mapping %+v: %w", m, err)
		}
	}
	return nil
}

// setHostPorts brings the node's nat table to c, turning route_localnet on
// at the bridge first so that connections to 127.0.0.1 may be DNATed out of
// it (the masquerade then gives them the bridge's address as source).
func (p *Plugin) setHostPorts(ctx context.Context, c hostPortChange) error {
	if len(c.ports) > 0 {
		key := "net/ipv4/conf/" + p.cfg.Bridge + "/route_localnet"
		if err := p.sysctl(p.nodePath, key, "1"); err != nil {
			return fmt.Errorf("set %s=1 in %s: %w", key, p.cfg.NodeNetns, err)
		}
	}
	p.hostPortMu.Lock()
	defer p.hostPortMu.Unlock()
	saved, err := p.nat.Save(ctx)
	if err != nil {
		return fmt.Errorf("host ports: %w", err)
	}
	text := renderHostPorts(saved, c)
	if text == nil {
		return nil
	}
	if err := p.nat.Restore(ctx, text); err != nil {
		return fmt.Errorf("host ports: %w", err)
	}
	p.clearStaleUDP(c)
	return nil
}

// clearStaleUDP forgets the node's UDP flows to the pod's UDP host ports: a
// client that sent there before the rules existed has a conntrack entry
// without the DNAT, which its later datagrams would follow instead of the
// rules for as long as it keeps sending. A failure is only logged, as the
// portmap plugin does: the rules are in place.
func (p *Plugin) clearStaleUDP(c hostPortChange) {
	for _, m := range c.ports {
		if m.proto() != "udp" {
			continue
		}
		if err := p.clearUDP(p.nodePath, uint16(m.HostPort)); err != nil {
			p.cfg.Log.Warn("clear conntrack of a UDP host port", "pod", c.pod.String(), "port", m.HostPort, "err", err)
		}
	}
}

// clearUDPConntrack deletes the UDP entries to port (as the client sent
// them) in the namespace at nodePath.
func clearUDPConntrack(nodePath string, port uint16) error {
	h, err := netns.Handle(nodePath)
	if err != nil {
		return err
	}
	defer h.Close()
	f := &netlink.ConntrackFilter{}
	if err := f.AddProtocol(unix.IPPROTO_UDP); err != nil {
		return err
	}
	if err := f.AddPort(netlink.ConntrackOrigDstPort, port); err != nil {
		return err
	}
	_, err = h.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, f)
	return err
}

// delHostPorts removes the pod's host port rules, if it has any.
func (p *Plugin) delHostPorts(ctx context.Context, pod PodRef) error {
	if !isNetnsFile(p.nodePath) {
		return nil // the node is gone, and its rules with it
	}
	return p.setHostPorts(ctx, hostPortChange{pod: pod})
}
