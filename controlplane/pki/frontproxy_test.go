package pki_test

import (
	"crypto/x509"
	"os"
	"testing"

	"github.com/kinns/kinns/controlplane/pki"
)

func verifiesAgainst(c, ca *x509.Certificate) bool {
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	_, err := c.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return err == nil
}

func TestFrontProxyHasItsOwnCA(t *testing.T) {
	cfg, _ := newConfig(t)
	b := generate(t, cfg)
	fp := b.FrontProxy
	if fp == nil {
		t.Fatal("no front proxy bundle")
	}
	if ca := fp.CA.Cert; ca.Subject.CommonName != "kinns-t-front-proxy-ca" || !ca.IsCA || ca.Equal(b.CA.Cert) {
		t.Errorf("front proxy CA: CN %q IsCA %v, same as the lab CA: %v", ca.Subject.CommonName, ca.IsCA, ca.Equal(b.CA.Cert))
	}
	if cn := fp.Client.Cert.Subject.CommonName; cn != pki.FrontProxyClientCN {
		t.Errorf("front proxy client CN %q", cn)
	}
	if !verifiesAgainst(fp.Client.Cert, fp.CA.Cert) {
		t.Error("the front proxy client does not verify against its CA")
	}
	if verifiesAgainst(b.Clients[pki.Admin].Cert, fp.CA.Cert) {
		t.Error("the admin's certificate verifies against the front proxy CA: it could pose as the aggregator")
	}
	if fp.Client.CertFile != b.Paths.FrontProxyClientCert() || fp.CA.CertFile != b.Paths.FrontProxyCACert() {
		t.Errorf("files %s %s", fp.Client.CertFile, fp.CA.CertFile)
	}
}

func TestFrontProxyIsReusedAndLoaded(t *testing.T) {
	cfg, _ := newConfig(t)
	first := generate(t, cfg)
	again := generate(t, cfg)
	if !again.FrontProxy.Client.Cert.Equal(first.FrontProxy.Client.Cert) {
		t.Error("a second Generate replaced a valid front proxy client certificate")
	}
	loaded, err := pki.Load(cfg.Dir)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if loaded.FrontProxy == nil || !loaded.FrontProxy.Client.Cert.Equal(first.FrontProxy.Client.Cert) {
		t.Errorf("Load front proxy %+v", loaded.FrontProxy)
	}
	p := first.Paths
	for _, f := range []string{p.FrontProxyCACert(), p.FrontProxyCAKey(), p.FrontProxyClientCert(), p.FrontProxyClientKey()} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	if loaded, err = pki.Load(cfg.Dir); err != nil || loaded.FrontProxy != nil {
		t.Errorf("Load of a folder made before the front proxy: %v, %+v", err, loaded)
	}
}
