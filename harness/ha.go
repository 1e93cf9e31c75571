package harness

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strconv"
	"time"

	"github.com/vishvananda/netlink"
	"k8s.io/client-go/rest"

	"github.com/kinns/kinns/cni/netns"
	controllersconfig "github.com/kinns/kinns/controlplane/controllers/config"
	"github.com/kinns/kinns/controlplane/forward"
	"github.com/kinns/kinns/harness/topology"
)

// High availability, as DESIGN §2 draws it: with three API servers, one on
// each control-plane host, everything inside the lab reaches the API at
// the virtual IP 10.89.0.10, which an L4 balancer in the fabric namespace
// (`lab component apilb`) serves. An L4 balancer rather than a VRRP-like
// owner moving the address: it checks each API server's /readyz (so an API
// server that lost etcd, or is still starting, gets no connection, which
// a VRRP owner that only sees a host alive would not know), moves no
// address and sends no gratuitous ARP, and fails over in one check period
// (250 ms) instead of an election's seconds; the fabric namespace is the
// lab's "network", where a cloud puts its load balancer. A single API
// server (`lab up --control-planes 1`) is reached at cp-1 directly.

// ComponentBalancer names the API balancer.
const ComponentBalancer = "apilb"

// APIServerComponent names the API server on control-plane host n (1-3):
// "apiserver" on cp-1, as in a lab with one, "apiserver/cp-N" on the others.
func APIServerComponent(n int) string { return onHost(ComponentAPIServer, n) }

// SchedulerComponent and ControllersComponent name the scheduler and the
// controller manager of control-plane host n, the same way.
func SchedulerComponent(n int) string   { return onHost(ComponentScheduler, n) }
func ControllersComponent(n int) string { return onHost(ComponentControllers, n) }

func onHost(name string, n int) string {
	if n == 1 {
		return name
	}
	return name + "/cp-" + strconv.Itoa(n)
}

// HA reports whether the lab runs three API servers behind the virtual IP.
func (l *Lab) HA() bool { return l.cfg.APIServers > 1 }

// apiServerHosts are the control-plane hosts that run an API server, a
// scheduler and a controller manager.
func (l *Lab) apiServerHosts() []topology.Host {
	return l.plan.ControlPlane()[:l.cfg.APIServers]
}

// controllerHosts run the scheduler and the controller manager: one of
// each beside every API server, electing a leader when there are three.
func (l *Lab) controllerHosts() []topology.Host { return l.apiServerHosts() }

// leaderElection is what an instance on h is told: with three, it competes
// for its Lease under its host's name, with the timing profile's periods.
func (l *Lab) leaderElection(h topology.Host) controllersconfig.LeaderElection {
	if !l.HA() {
		return controllersconfig.LeaderElection{}
	}
	le := controllersconfig.LeaderElectionTiming(l.cfg.Timing)
	le.LeaderElect, le.Identity = true, h.Name
	return le
}

// apiAddress is where everything inside the lab reaches the API: the
// virtual IP, or cp-1 with a single API server.
func (l *Lab) apiAddress() string {
	if l.HA() {
		return net.JoinHostPort(topology.APIVIP.String(), strconv.Itoa(APIPort))
	}
	cp1, _ := l.plan.Host("cp-1")
	return net.JoinHostPort(cp1.IP.String(), strconv.Itoa(APIPort))
}

// fabricHost stands for the fabric namespace where a component (the API
// balancer) runs there.
func (l *Lab) fabricHost() topology.Host {
	return topology.Host{Name: "fabric", Netns: l.plan.FabricNetns, IP: topology.APIVIP}
}

// addVIP gives the fabric's bridge the virtual IP; it goes with the
// fabric namespace.
func (l *Lab) addVIP(context.Context) error {
	h, err := netns.Handle(netns.Path(l.plan.FabricNetns))
	if err != nil {
		return err
	}
	defer h.Close()
	br, err := h.LinkByName(topology.FabricBridge)
	if err != nil {
		return fmt.Errorf("find %s: %w", topology.FabricBridge, err)
	}
	addr := &netlink.Addr{IPNet: prefixNet(netip.PrefixFrom(topology.APIVIP, topology.FabricSubnet.Bits()))}
	if err := h.AddrReplace(br, addr); err != nil {
		return fmt.Errorf("add %s to %s: %w", topology.APIVIP, topology.FabricBridge, err)
	}
	return nil
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// balancerConfig is the API balancer's: the virtual IP in front of every
// API server, checked with the admin certificate (any authenticated user
// may read /readyz).
func (l *Lab) balancerConfig(topology.Host, string) (any, error) {
	var targets []string
	for _, h := range l.apiServerHosts() {
		targets = append(targets, net.JoinHostPort(h.IP.String(), strconv.Itoa(APIPort)))
	}
	p := l.pki.Paths
	return forward.BalancerConfig{
		Listen: l.apiAddress(), Targets: targets, StatusFile: l.balancerStatusFile(),
		CACert: p.CACert(), ClientCert: p.ClientCert("admin"), ClientKey: p.ClientKey("admin"),
	}, nil
}

func (l *Lab) balancerStatusFile() string {
	return l.store.Path(filepath.Join("config", "apilb-status.json"))
}

// APIServers is the balancer's view of the API servers (nil with one).
func (l *Lab) APIServers() []forward.Backend {
	if !l.HA() {
		return nil
	}
	b, _ := forward.ReadStatus(l.balancerStatusFile())
	return b
}

// apiServerReady waits until the API server on h answers /readyz, asked
// from inside h.
func (l *Lab) apiServerReady(h topology.Host) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		rc, err := l.RESTConfig()
		if err != nil {
			return err
		}
		tlsCfg, err := rest.TLSConfigFor(rc)
		if err != nil {
			return err
		}
		client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
			DialContext: netns.DialContext(netns.Path(h.Netns)), TLSClientConfig: tlsCfg.Clone(),
		}}
		url := "https://" + net.JoinHostPort(h.IP.String(), strconv.Itoa(APIPort)) + "/readyz"
		return pollReady(ctx, func(ctx context.Context) error { return forward.GetOK(ctx, client, url) })
	}
}

// pollReady calls check with growing pauses, 100 ms at most, until it
// passes or ctx ends: an API server's boot is seconds long, and each ask
// is one request on a kept-alive connection, so a longer pause would only
// add to every bring-up (the 500 ms it was cost 250 ms on average).
func pollReady(ctx context.Context, check func(context.Context) error) error {
	pause := 25 * time.Millisecond
	for {
		err := check(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready (%v): %w", err, ctx.Err())
		case <-time.After(pause):
		}
		pause = min(pause*2, 100*time.Millisecond)
	}
}
