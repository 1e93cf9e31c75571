package pki

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Bundle is a lab's whole pki, parsed, with the files it came from.
type Bundle struct {
	Lab   string
	Paths Paths
	CA    *Pair
	// APIServer is the API server's serving certificate.
	APIServer *Pair
	// Clients holds every client certificate: the fixed identities and one per node.
	Clients map[Identity]*Pair
	// Kubelets holds each node's kubelet serving certificate, by node name.
	Kubelets       map[string]*Pair
	ServiceAccount *ServiceAccountKey
	// Etcd is nil only in a folder made before etcd took TLS (Load).
	Etcd *EtcdBundle
	// EncryptionKey encrypts Secrets at rest (32 bytes, AES-256); nil only in
	// a folder made before it existed (Load).
	EncryptionKey     []byte
	EncryptionKeyFile string
	// FrontProxy is the aggregator's CA and client certificate; nil only in
	// a folder made before it existed (Load).
	FrontProxy *FrontProxyBundle
}

// ServiceAccountKey signs and verifies service account tokens.
type ServiceAccountKey struct {
	Key     crypto.Signer
	KeyPEM  []byte
	PubPEM  []byte
	KeyFile string
	PubFile string
}

func newBundle(lab string, p Paths, ca *Pair, sa *ServiceAccountKey) *Bundle {
	return &Bundle{
		Lab: lab, Paths: p, CA: ca, ServiceAccount: sa,
		Clients: map[Identity]*Pair{}, Kubelets: map[string]*Pair{},
	}
}

func (b *Bundle) add(s leafSpec, p *Pair) {
	switch {
	case s.etcd != "":
		b.Etcd.add(s, p)
	case s.id != "":
		b.Clients[s.id] = p
	case s.node != "":
		b.Kubelets[s.node] = p
	default:
		b.APIServer = p
	}
}

// Client returns identity id's client certificate.
func (b *Bundle) Client(id Identity) (*Pair, error) {
	p, ok := b.Clients[id]
	if !ok {
		return nil, fmt.Errorf("lab %q has no client certificate for %q (known: %s)", b.Lab, id, strings.Join(b.identities(), ", "))
	}
	return p, nil
}

// Nodes lists the nodes that have certificates, sorted.
func (b *Bundle) Nodes() []string {
	var names []string
	for n := range b.Kubelets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// CAPool is a pool holding only the lab CA, for verifying any peer of the lab.
func (b *Bundle) CAPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(b.CA.Cert)
	return pool
}

func (b *Bundle) identities() []string {
	var ids []string
	for id := range b.Clients {
		ids = append(ids, string(id))
	}
	slices.Sort(ids)
	return ids
}

// caName is the CA's common name; Load recovers the lab name from it.
func caName(lab string) string { return "kinns-" + lab + "-ca" }

func labOf(ca *x509.Certificate) (string, error) {
	cn := ca.Subject.CommonName
	lab, ok := strings.CutPrefix(cn, "kinns-")
	if lab, ok2 := strings.CutSuffix(lab, "-ca"); ok && ok2 && lab != "" {
		return lab, nil
	}
	return "", fmt.Errorf("CA common name %q is not kinns-<lab>-ca", cn)
}

// verifyLeaf checks that c chains to ca, at now, for each of usages.
func verifyLeaf(ca *Pair, c *x509.Certificate, usages []x509.ExtKeyUsage, now time.Time) error {
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	for _, u := range usages {
		if _, err := c.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{u}}); err != nil {
			return err
		}
	}
	return nil
}

// dueForRenewal reports a certificate in the last tenth of its life, so a lab
// started near the end never runs into an expiry.
func dueForRenewal(c *x509.Certificate, now time.Time) error {
	life := c.NotAfter.Sub(c.NotBefore)
	if c.NotAfter.Sub(now) < life/10 {
		return fmt.Errorf("expires %s, too soon", c.NotAfter.Format(time.RFC3339))
	}
	return nil
}
