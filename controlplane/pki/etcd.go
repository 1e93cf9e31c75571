package pki

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// EtcdMember is one member of the lab's etcd cluster. It gets a serving
// certificate for its client port and a peer certificate, both signed by the
// etcd CA.
type EtcdMember struct {
	Name string     // the member's name, e.g. "cp-1"
	IP   netip.Addr // its fabric address, e.g. 10.89.0.11
}

// EtcdClient names a client certificate of etcd, signed by the etcd CA. etcd
// only checks that a client's certificate chains to that CA: the names say
// who holds it, for people reading etcd's logs.
type EtcdClient string

// The etcd clients of a lab.
const (
	// EtcdAPIServerClient is the API servers' (kube-apiserver --etcd-certfile),
	// also used by their quorum guard.
	EtcdAPIServerClient EtcdClient = "apiserver-etcd-client"
	// EtcdHealthcheckClient is the lab's own: health checks, `lab status`, specs.
	EtcdHealthcheckClient EtcdClient = "healthcheck-client"
)

var etcdClients = []EtcdClient{EtcdAPIServerClient, EtcdHealthcheckClient}

func etcdClientCN(id EtcdClient) string {
	if id == EtcdAPIServerClient {
		return "kube-apiserver-etcd-client"
	}
	return "kinns-etcd-" + string(id)
}

// etcdCAName is the etcd CA's common name.
func etcdCAName(lab string) string { return "kinns-" + lab + "-etcd-ca" }

// etcdPlan lists every certificate the etcd CA signs.
func etcdPlan(members []EtcdMember, p Paths) []leafSpec {
	var specs []leafSpec
	for _, m := range members {
		specs = append(specs, etcdServerSpec(p, m), etcdPeerSpec(p, m))
	}
	for _, id := range etcdClients {
		specs = append(specs, leafSpec{
			what: fmt.Sprintf("etcd %s certificate", id),
			etcd: etcdClient, etcdName: string(id),
			cert: p.EtcdClientCert(id), key: p.EtcdClientKey(id),
			cn: etcdClientCN(id), usages: clientAuth,
		})
	}
	return specs
}

// etcdServerSpec is a member's client-port certificate: clients on other
// hosts dial its fabric address, those on its own host 127.0.0.1.
func etcdServerSpec(p Paths, m EtcdMember) leafSpec {
	return leafSpec{
		what: fmt.Sprintf("etcd member %s serving certificate", m.Name),
		etcd: etcdServer, etcdName: m.Name,
		cert: p.EtcdServerCert(m.Name), key: p.EtcdServerKey(m.Name),
		cn: m.Name, usages: bothAuth,
		dns: []string{m.Name, "localhost"},
		ips: dedupe([]netip.Addr{m.IP.Unmap(), netip.MustParseAddr("127.0.0.1")}),
	}
}

func etcdPeerSpec(p Paths, m EtcdMember) leafSpec {
	return leafSpec{
		what: fmt.Sprintf("etcd member %s peer certificate", m.Name),
		etcd: etcdPeer, etcdName: m.Name,
		cert: p.EtcdPeerCert(m.Name), key: p.EtcdPeerKey(m.Name),
		cn: m.Name, usages: bothAuth,
		dns: []string{m.Name, "localhost"},
		ips: dedupe([]netip.Addr{m.IP.Unmap(), netip.MustParseAddr("127.0.0.1")}),
	}
}

func validateEtcdMembers(members []EtcdMember) error {
	seen := map[string]bool{}
	for _, m := range members {
		if len(m.Name) > 63 || !labNameRE.MatchString(m.Name) {
			return fmt.Errorf("invalid pki config: etcd member name %q must be lower-case letters, digits or '-'", m.Name)
		}
		if seen[m.Name] {
			return fmt.Errorf("invalid pki config: etcd member %q listed twice", m.Name)
		}
		seen[m.Name] = true
		if !m.IP.IsValid() {
			return fmt.Errorf("invalid pki config: etcd member %q has no IP", m.Name)
		}
	}
	return nil
}

// EtcdBundle is the etcd part of a lab's pki: its own CA, so that no
// certificate the lab CA signs (a node's, the admin's) opens etcd.
type EtcdBundle struct {
	CA *Pair
	// Servers and Peers hold each member's certificates, by member name.
	Servers, Peers map[string]*Pair
	Clients        map[EtcdClient]*Pair
}

func newEtcdBundle(ca *Pair) *EtcdBundle {
	return &EtcdBundle{CA: ca, Servers: map[string]*Pair{}, Peers: map[string]*Pair{}, Clients: map[EtcdClient]*Pair{}}
}

func (e *EtcdBundle) add(s leafSpec, p *Pair) {
	switch s.etcd {
	case etcdServer:
		e.Servers[s.etcdName] = p
	case etcdPeer:
		e.Peers[s.etcdName] = p
	default:
		e.Clients[EtcdClient(s.etcdName)] = p
	}
}

// Members lists the members that have certificates, sorted.
func (e *EtcdBundle) Members() []string {
	var names []string
	for n := range e.Servers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// ClientTLS is a TLS configuration for client id of etcd: it presents id's
// certificate and trusts only the etcd CA.
func (e *EtcdBundle) ClientTLS(id EtcdClient) (*tls.Config, error) {
	p, ok := e.Clients[id]
	if !ok {
		var known []string
		for k := range e.Clients {
			known = append(known, string(k))
		}
		slices.Sort(known)
		return nil, fmt.Errorf("no etcd client certificate %q (known: %s)", id, strings.Join(known, ", "))
	}
	pool := x509.NewCertPool()
	pool.AddCert(e.CA.Cert)
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{p.TLSCertificate()}, MinVersion: tls.VersionTLS12}, nil
}
