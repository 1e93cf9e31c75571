package cni

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/kinns/kinns/cni/ipam"
	"github.com/kinns/kinns/cni/netns"
)

// Plugin wires pods into one node's bridge. It is safe for concurrent use; calls
// for the same pod UID are serialised.
type Plugin struct {
	cfg      Config
	nodePath string
	ipam     *ipam.Store
	podLocks [64]sync.Mutex

	pinMu sync.Mutex
	// pinnedBridge is the ifindex of the bridge whose MAC this Plugin pinned.
	pinnedBridge int

	// hostPortMu serialises the read-modify-write of the host port rules.
	hostPortMu sync.Mutex

	// Side effects replaced by tests.
	nat        natTable
	clearUDP   func(nodePath string, port uint16) error
	sysctl     func(path, key, value string) error
	readSysctl func(path, key string) (string, error)
	fault      func(step string) error
}

// New checks cfg and opens the address state. It changes nothing in any
// namespace: the node's bridge must already exist when Add is called.
func New(cfg Config) (*Plugin, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	store, err := ipam.Open(ipam.Config{Dir: cfg.StateDir, Range: cfg.PodCIDR, Gateway: cfg.Gateway})
	if err != nil {
		return nil, fmt.Errorf("cni: %w", err)
	}
	return &Plugin{
		cfg:        cfg,
		nodePath:   cfg.nodePath(),
		ipam:       store,
		nat:        execNAT{path: cfg.nodePath()},
		clearUDP:   clearUDPConntrack,
		sysctl:     netns.Sysctl,
		readSysctl: readSysctl,
		fault:      func(string) error { return nil },
	}, nil
}

// lockPod serialises calls for one UID (and, rarely, a few others sharing its
// stripe).
func (p *Plugin) lockPod(uid string) func() {
	h := fnv.New32a()
	h.Write([]byte(uid))
	m := &p.podLocks[h.Sum32()%uint32(len(p.podLocks))]
	m.Lock()
	return m.Unlock
}

// Add gives the pod a network namespace called netnsName with eth0 on the node's
// bridge, an address from the pod range and a default route via the gateway.
// When it returns, both veth ends are up and pass traffic.
//
// Add is idempotent: called again for the same UID it returns the same address
// and remakes whatever is missing or wrong. If it fails, it removes what this
// call made (address, namespace, veth); what an earlier Add made is left for Del.
//
// ports are the pod's host ports, as the portmap plugin makes them: in the
// node's nat table, traffic to a local address (or the mapping's HostIP) and
// HostPort is DNATed to the pod, from outside and from the node itself,
// 127.0.0.1 included. Add replaces whatever host ports the pod had.
func (p *Plugin) Add(ctx context.Context, pod PodRef, netnsName string, ports ...PortMapping) (res Result, err error) {
	if err := p.checkArgs(pod, netnsName); err != nil {
		return Result{}, err
	}
	if err := checkPorts(ports); err != nil {
		return Result{}, fmt.Errorf("add pod %s: %w", pod, err)
	}
	defer p.lockPod(pod.UID)()
	start := time.Now()
	defer func() { p.logDone("add", pod, netnsName, start, res.IP, err) }()

	if err := p.ensureBridgeNetfilter(ctx); err != nil {
		return Result{}, err
	}
	node, err := netns.Handle(p.nodePath)
	if err != nil {
		return Result{}, fmt.Errorf("add pod %s: %w", pod, err)
	}
	defer node.Close()
	br, err := p.bridge(node)
	if err != nil {
		return Result{}, fmt.Errorf("add pod %s: %w", pod, err)
	}
	if err := p.pinBridgeMAC(node, br); err != nil {
		return Result{}, fmt.Errorf("add pod %s: %w", pod, err)
	}
	var undo rollback
	success := false
	defer func() {
		if !success {
			undo.run(p, pod)
		}
	}()
	res, err = p.add(ctx, node, br, pod, netnsName, &undo)
	if err != nil {
		return Result{}, fmt.Errorf("add pod %s: %w", pod, err)
	}
	if len(ports) > 0 {
		if err := p.setHostPorts(ctx, hostPortChange{pod: pod, podIP: res.IP, ports: ports}); err != nil {
			return Result{}, fmt.Errorf("add pod %s: %w", pod, err)
		}
	}
	success = true
	return res, nil
}

// add runs the steps of Add, pushing the undo of each thing it makes.
func (p *Plugin) add(ctx context.Context, node *netlink.Handle, br netlink.Link, pod PodRef, netnsName string, undo *rollback) (Result, error) {
	ip, fresh, err := p.ipam.Allocate(ctx, pod.UID, fmt.Sprintf("%s netns=%s", pod, netnsName))
	if err != nil {
		return Result{}, err
	}
	if fresh {
		undo.push("release "+ip.String(), func() error { return p.ipam.Release(context.WithoutCancel(ctx), pod.UID) })
	}
	if err := p.step("netns"); err != nil {
		return Result{}, err
	}
	if !netns.Exists(netnsName) {
		if err := netns.Create(netnsName); err != nil {
			return Result{}, err
		}
		undo.push("delete netns "+netnsName, func() error { return netns.Delete(netnsName) })
	}
	podNS, err := netns.Handle(netns.Path(netnsName))
	if err != nil {
		return Result{}, err
	}
	defer podNS.Close()
	if err := p.step("veth"); err != nil {
		return Result{}, err
	}
	host, created, err := p.ensureVeth(node, podNS, netnsName, br, pod)
	if err != nil {
		return Result{}, err
	}
	if created {
		name := host.Attrs().Name
		undo.push("delete veth "+name, func() error { return deleteLink(node, name) })
	}
	if err := p.step("host"); err != nil {
		return Result{}, err
	}
	if err := p.plugHost(node, host, br); err != nil {
		return Result{}, err
	}
	if err := p.step("pod"); err != nil {
		return Result{}, err
	}
	if err := p.configurePod(podNS, p.prefix(ip)); err != nil {
		return Result{}, err
	}
	// Return only once both ends pass traffic.
	if _, err := waitOperUp(ctx, node, host.Attrs().Name); err != nil {
		return Result{}, err
	}
	eth, err := waitOperUp(ctx, podNS, PodInterface)
	if err != nil {
		return Result{}, err
	}
	return p.result(ip, host, eth, netnsName), nil
}

// step lets tests fail Add between its steps.
func (p *Plugin) step(name string) error {
	if err := p.fault(name); err != nil {
		return fmt.Errorf("step %s: %w", name, err)
	}
	return nil
}

func (p *Plugin) result(ip netip.Addr, host, eth netlink.Link, netnsName string) Result {
	return Result{
		IP:        ip,
		Prefix:    p.prefix(ip),
		Gateway:   p.cfg.Gateway,
		HostVeth:  host.Attrs().Name,
		Interface: PodInterface,
		MAC:       append(net.HardwareAddr(nil), eth.Attrs().HardwareAddr...),
		NetnsPath: netns.Path(netnsName),
	}
}

// Del removes the pod's veth and namespace and releases its address. Whatever is
// already gone counts as removed, so Del is idempotent. It tries every step and
// reports every failure.
func (p *Plugin) Del(ctx context.Context, pod PodRef, netnsName string) (err error) {
	if err := p.checkArgs(pod, netnsName); err != nil {
		return err
	}
	defer p.lockPod(pod.UID)()
	start := time.Now()
	defer func() { p.logDone("del", pod, netnsName, start, netip.Addr{}, err) }()

	errs := []error{p.delHostPorts(ctx, pod), p.delHostVeth(pod), p.delPodNetns(netnsName)}
	// Release last: while the veth might still exist, its address stays reserved.
	if errors.Join(errs...) == nil {
		errs = append(errs, p.ipam.Release(ctx, pod.UID))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete pod %s: %w", pod, err)
	}
	return nil
}

func (p *Plugin) delHostVeth(pod PodRef) error {
	if !isNetnsFile(p.nodePath) {
		return nil // the node is gone, and its links with it
	}
	node, err := netns.Handle(p.nodePath)
	if err != nil {
		return err
	}
	defer node.Close()
	return deleteLink(node, HostVethName(pod.UID))
}

// delPodNetns removes eth0 first: a process still holding the namespace would
// otherwise keep the pair, and the pod's address, alive.
func (p *Plugin) delPodNetns(name string) error {
	if !netns.Exists(name) {
		return nil
	}
	h, err := netns.Handle(netns.Path(name))
	if err != nil {
		return err
	}
	err = deleteLink(h, PodInterface)
	h.Close()
	return errors.Join(err, netns.Delete(name))
}

func (p *Plugin) checkArgs(pod PodRef, netnsName string) error {
	if err := pod.validate(); err != nil {
		return err
	}
	return validNetnsName(netnsName)
}

func (p *Plugin) logDone(op string, pod PodRef, netnsName string, start time.Time, ip netip.Addr, err error) {
	attrs := []any{"pod", pod.String(), "uid", pod.UID, "netns", netnsName, "took", time.Since(start)}
	if ip.IsValid() {
		attrs = append(attrs, "ip", ip)
	}
	if err != nil {
		p.cfg.Log.Error("cni "+op+" failed", append(attrs, "err", err)...)
		return
	}
	p.cfg.Log.Info("cni "+op, attrs...)
}

// rollback undoes, newest first, what a failed Add made.
type rollback struct {
	steps []undoStep
}

type undoStep struct {
	what string
	do   func() error
}

func (r *rollback) push(what string, do func() error) {
	r.steps = append(r.steps, undoStep{what, do})
}

func (r *rollback) run(p *Plugin, pod PodRef) {
	for i := len(r.steps) - 1; i >= 0; i-- {
		s := r.steps[i]
		if err := s.do(); err != nil {
			p.cfg.Log.Error("cni rollback step failed", "pod", pod.String(), "step", s.what, "err", err)
		}
	}
}
