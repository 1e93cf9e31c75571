package pki

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/netip"
	"slices"
)

// leafSpec is one certificate the lab needs: who it names and what it is for.
// plan computes them from Config alone, so what a lab holds is plain data.
type leafSpec struct {
	what string   // for messages: "admin client certificate"
	id   Identity // client identity; "" for serving certificates
	node string   // kubelet serving: the node; "" otherwise
	// etcd is set for the certificates the etcd CA signs; etcdName is then
	// the member or the client they are for.
	etcd     etcdRole
	etcdName string
	// frontProxy is set for the aggregator's client certificate, which the
	// front proxy CA signs.
	frontProxy bool
	cert, key  string
	cn         string
	orgs       []string
	usages     []x509.ExtKeyUsage
	dns        []string
	ips        []netip.Addr
}

// etcdRole says what an etcd certificate is for.
type etcdRole string

const (
	etcdServer etcdRole = "server" // a member's client port
	etcdPeer   etcdRole = "peer"   // a member's peer port, and its dials to the others
	etcdClient etcdRole = "client" // a client of the members
)

var (
	serverAuth = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	clientAuth = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	// bothAuth is for etcd's member certificates, as kubeadm makes them: a
	// peer certificate serves and dials, and a member's gRPC gateway dials
	// its own client port with the server certificate.
	bothAuth = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
)

// subject is a client certificate's user (CN) and groups (O).
type subject struct {
	cn   string
	orgs []string
}

// fixedClients lists the fixed identities in the order Generate makes them.
var fixedClients = []Identity{Admin, APIServerKubeletClient, Proxy, Scheduler, ControllerManager, DNS, CloudControllerManager}

// subjectOf is the subject Kubernetes authorizers expect for id: system:masters
// for the admin and the API server's kubelet client (full access), the users
// that the default RBAC bindings name for the system components, and the Node
// authorizer's system:node:<name> in system:nodes for anything else.
func subjectOf(id Identity) subject {
	switch id {
	case Admin:
		return subject{"kinns-admin", []string{"system:masters"}}
	case APIServerKubeletClient:
		return subject{"kube-apiserver-kubelet-client", []string{"system:masters"}}
	case Proxy:
		return subject{"system:kube-proxy", nil}
	case Scheduler:
		return subject{"system:kube-scheduler", nil}
	case ControllerManager:
		return subject{"system:kube-controller-manager", nil}
	case DNS:
		return subject{"system:coredns", nil} // bound to the system:coredns role at bring-up
	case CloudControllerManager:
		return subject{"system:cloud-controller-manager", nil} // bound to its role at bring-up
	}
	return subject{"system:node:" + string(id), []string{"system:nodes"}}
}

// plan lists every leaf certificate of the lab described by c.
func plan(c Config, p Paths) []leafSpec {
	specs := []leafSpec{apiServerSpec(c, p)}
	for _, id := range fixedClients {
		specs = append(specs, clientSpec(p, id))
	}
	for _, n := range c.Nodes {
		specs = append(specs, clientSpec(p, NodeIdentity(n.Name)), kubeletSpec(p, n))
	}
	return specs
}

func apiServerSpec(c Config, p Paths) leafSpec {
	return leafSpec{
		what: "API server serving certificate",
		cert: p.APIServerCert(), key: p.APIServerKey(),
		cn:     "kube-apiserver",
		usages: serverAuth,
		dns:    dedupe(slices.Concat(DefaultAPIServerDNSNames, c.ExtraDNSNames)),
		ips:    dedupe(unmapAll(slices.Concat(DefaultAPIServerIPs, c.ExtraIPs))),
	}
}

func clientSpec(p Paths, id Identity) leafSpec {
	s := subjectOf(id)
	return leafSpec{
		what: fmt.Sprintf("%s client certificate", id),
		id:   id,
		cert: p.ClientCert(id), key: p.ClientKey(id),
		cn: s.cn, orgs: s.orgs,
		usages: clientAuth,
	}
}

// kubeletSpec follows the kubelet's own serving CSRs: the node's identity as
// subject, and the names the API server dials it by as SANs.
func kubeletSpec(p Paths, n Node) leafSpec {
	s := subjectOf(NodeIdentity(n.Name))
	return leafSpec{
		what: fmt.Sprintf("%s kubelet serving certificate", n.Name),
		node: n.Name,
		cert: p.KubeletCert(n.Name), key: p.KubeletKey(n.Name),
		cn: s.cn, orgs: s.orgs,
		usages: serverAuth,
		dns:    []string{n.Name},
		ips:    []netip.Addr{n.IP.Unmap()},
	}
}

// template is the part of an x509 template that spec decides.
func (s leafSpec) template() *x509.Certificate {
	t := &x509.Certificate{
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: s.usages,
		DNSNames:    s.dns,
	}
	t.Subject.CommonName = s.cn
	t.Subject.Organization = s.orgs
	for _, ip := range s.ips {
		t.IPAddresses = append(t.IPAddresses, net.IP(ip.AsSlice()))
	}
	return t
}

// mismatch says how c differs from s, or "" if it is what s asks for.
func (s leafSpec) mismatch(c *x509.Certificate) string {
	if m := s.identityMismatch(c); m != "" {
		return m
	}
	switch {
	case !sameSet(c.DNSNames, s.dns):
		return fmt.Sprintf("DNS names %q, want %q", c.DNSNames, s.dns)
	case !sameSet(certIPs(c), s.ips):
		return fmt.Sprintf("IP addresses %v, want %v", certIPs(c), s.ips)
	}
	return ""
}

// identityMismatch compares only who c names and what it is for, not its SANs.
func (s leafSpec) identityMismatch(c *x509.Certificate) string {
	switch {
	case c.Subject.CommonName != s.cn:
		return fmt.Sprintf("common name %q, want %q", c.Subject.CommonName, s.cn)
	case !sameSet(c.Subject.Organization, s.orgs):
		return fmt.Sprintf("organizations %q, want %q", c.Subject.Organization, s.orgs)
	case !slices.Equal(c.ExtKeyUsage, s.usages):
		return "wrong extended key usage"
	}
	return ""
}

func certIPs(c *x509.Certificate) []netip.Addr {
	var out []netip.Addr
	for _, ip := range c.IPAddresses {
		if a, ok := netip.AddrFromSlice(ip); ok {
			out = append(out, a.Unmap())
		}
	}
	return out
}

// unmapAll turns IPv4-mapped IPv6 addresses into IPv4 ones, as x509 encodes them.
func unmapAll(ips []netip.Addr) []netip.Addr {
	out := make([]netip.Addr, len(ips))
	for i, ip := range ips {
		out[i] = ip.Unmap()
	}
	return out
}

func sameSet[T comparable](a, b []T) bool {
	return setOf(a).equal(setOf(b))
}

type set[T comparable] map[T]bool

func setOf[T comparable](xs []T) set[T] {
	s := set[T]{}
	for _, x := range xs {
		s[x] = true
	}
	return s
}

func (s set[T]) equal(o set[T]) bool {
	if len(s) != len(o) {
		return false
	}
	for k := range s {
		if !o[k] {
			return false
		}
	}
	return true
}

func dedupe[T comparable](xs []T) []T {
	seen := set[T]{}
	var out []T
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
