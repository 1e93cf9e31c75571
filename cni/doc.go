// Package cni is kinns' pod network: for every pod, a network namespace whose
// eth0 is one end of a veth pair, the other end a hairpin port of the node's
// bridge (cni0, made by harness/network with the gateway address). Pods get an
// address of the node's pod range from package ipam and a default route via the
// bridge; nodes route other nodes' ranges (host-gw), so every pod reaches every
// pod.
//
// The kubelet of a node creates one Plugin for its node and calls it for every
// pod sandbox. All work goes through netlink handles bound to the node's and the
// pod's namespaces; no thread of the caller ever changes namespace.
//
//	p, err := cni.New(cni.Config{
//		NodeNetns: "kinns-node-1",
//		PodCIDR:   netip.MustParsePrefix("10.244.1.0/24"),
//		StateDir:  "/var/lib/kinns/labs/kinns/node-1/cni",
//		Log:       log,
//	})
//	pod := cni.PodRef{Namespace: "default", Name: "web-1", UID: "0b6f…"}
//	res, err := p.Add(ctx, pod, "kinns-pod-0b6f") // res.IP 10.244.1.2, res.HostVeth "veth1a2b3c4d"
//	res, err = p.Add(ctx, pod, "kinns-pod-0b6f")  // same IP; remakes what is missing
//	_, err = p.Check(ctx, pod, "kinns-pod-0b6f")  // ErrNotReady names what is wrong
//	err = p.Del(ctx, pod, "kinns-pod-0b6f")       // idempotent
//
// Add also turns on net.bridge.bridge-nf-call-iptables (and ip6tables) in the
// node namespace, so a Service answer from one pod to another pod of the same
// bridge is un-DNATed. That needs the br_netfilter module; an Add on a host
// without it fails with ErrBridgeNetfilter. The first Add pins the bridge's MAC,
// so the gateway's MAC never changes as pods come and go. Forwarding
// (net.ipv4.ip_forward) and the routes to other nodes are the topology's job.
//
// # Host ports
//
// Add's PortMappings (a pod's hostPorts) are what the CNI portmap plugin
// makes, in the node's nat table: PREROUTING and OUTPUT send traffic to the
// node's local addresses to KINNSHP-DNAT, which jumps to one chain per pod
// (KINNSHP-<hash of the UID>, the newest pod first) that DNATs
// [hostIP:]hostPort/protocol to podIP:containerPort. The pod's own traffic
// (hairpin) and 127.0.0.1's are marked 0x2000 and masqueraded by
// KINNSHP-MASQ in POSTROUTING; route_localnet is on at the bridge so that
// 127.0.0.1 may be DNATed out of it. UDP flows to the port are forgotten
// from conntrack. Del removes the pod's chain and jump. The prefix is not
// the proxy's KINNS-, whose sync deletes the chains of that prefix it did
// not render.
//
//	res, err := p.Add(ctx, pod, "kinns-pod-0b6f", cni.PortMapping{HostPort: 8080, ContainerPort: 80})
package cni
