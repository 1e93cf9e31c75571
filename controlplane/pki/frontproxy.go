package pki

import (
	"errors"
	"io/fs"
	"time"
)

// FrontProxyClientCN is the common name of the aggregator's client
// certificate, the one name kube-apiserver --requestheader-allowed-names lets
// pass on a caller in request headers.
const FrontProxyClientCN = "front-proxy-client"

// FrontProxyCACert and FrontProxyCAKey are the front proxy CA, as kubeadm
// makes it: kube-apiserver's --requestheader-client-ca-file. It is not the
// lab CA, so that an extension API server which trusts request headers from
// this CA's certificates does not trust them from any lab client.
func (p Paths) FrontProxyCACert() string { return p.file("front-proxy-ca.crt") }
func (p Paths) FrontProxyCAKey() string  { return p.file("front-proxy-ca.key") }

// FrontProxyClientCert and FrontProxyClientKey are kube-apiserver's
// --proxy-client-cert-file and --proxy-client-key-file: what the aggregator
// presents to extension API servers.
func (p Paths) FrontProxyClientCert() string { return p.file("front-proxy-client.crt") }
func (p Paths) FrontProxyClientKey() string  { return p.file("front-proxy-client.key") }

// FrontProxyBundle is the front proxy CA and the one certificate it signs.
type FrontProxyBundle struct {
	CA, Client *Pair
}

// frontProxyCAName is the front proxy CA's common name.
func frontProxyCAName(lab string) string { return "kinns-" + lab + "-front-proxy-ca" }

func (g *generator) frontProxyCA() caSpec {
	return caSpec{what: "front proxy CA", cert: g.paths.FrontProxyCACert(), key: g.paths.FrontProxyCAKey(), cn: frontProxyCAName(g.cfg.Lab),
		fix: "remove " + g.paths.FrontProxyCACert() + " and its key to start a new front proxy CA (every extension API server then needs a restart)"}
}

func frontProxySpec(p Paths) leafSpec {
	return leafSpec{
		what: "front proxy client certificate", frontProxy: true,
		cert: p.FrontProxyClientCert(), key: p.FrontProxyClientKey(),
		cn: FrontProxyClientCN, usages: clientAuth,
	}
}

// ensureFrontProxy makes or reuses the front proxy CA and its client.
func (g *generator) ensureFrontProxy(b *Bundle) error {
	ca, err := g.ensureCA(g.frontProxyCA())
	if err != nil {
		return err
	}
	p, err := g.ensureLeaf(ca, frontProxySpec(g.paths))
	if err != nil {
		return err
	}
	b.FrontProxy = &FrontProxyBundle{CA: ca, Client: p}
	return nil
}

// loadFrontProxy loads the front proxy CA and client; a folder made before
// they existed leaves b.FrontProxy nil.
func loadFrontProxy(b *Bundle, now time.Time) error {
	ca, err := readPair(b.Paths.FrontProxyCACert(), b.Paths.FrontProxyCAKey())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	p, err := loadLeaf(ca, frontProxySpec(b.Paths), now)
	if err != nil {
		return err
	}
	b.FrontProxy = &FrontProxyBundle{CA: ca, Client: p}
	return nil
}
