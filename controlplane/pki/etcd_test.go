package pki_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kinns/kinns/controlplane/pki"
)

func etcdPool(b *pki.Bundle) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(b.Etcd.CA.Cert)
	return pool
}

func TestEtcdHasItsOwnCA(t *testing.T) {
	cfg, _ := newConfig(t)
	b := generate(t, cfg)
	ca := b.Etcd.CA.Cert
	if ca.Subject.CommonName != "kinns-t-etcd-ca" || !ca.IsCA || ca.Equal(b.CA.Cert) {
		t.Errorf("etcd CA: CN %q IsCA %v, same as the lab CA: %v", ca.Subject.CommonName, ca.IsCA, ca.Equal(b.CA.Cert))
	}
	admin := b.Clients[pki.Admin].Cert
	if _, err := admin.Verify(x509.VerifyOptions{Roots: etcdPool(b), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("the admin's certificate verifies against the etcd CA: it would open etcd")
	}
	if got := b.Etcd.Members(); !slices.Equal(got, []string{"cp-1", "cp-2", "cp-3"}) {
		t.Errorf("members %v", got)
	}
}

func TestEtcdMemberCertificatesServeTheirAddressAndLoopback(t *testing.T) {
	cfg, _ := newConfig(t)
	b := generate(t, cfg)
	for i, m := range []string{"cp-1", "cp-2", "cp-3"} {
		ip := fmt.Sprintf("10.89.0.%d", 11+i)
		for what, p := range map[string]*pki.Pair{"server": b.Etcd.Servers[m], "peer": b.Etcd.Peers[m]} {
			for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
				for _, host := range []string{ip, "127.0.0.1", m} {
					if _, err := p.Cert.Verify(x509.VerifyOptions{Roots: etcdPool(b), DNSName: host, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
						t.Errorf("%s %s for %s, usage %v: %v", m, what, host, usage, err)
					}
				}
			}
			if _, err := p.Cert.Verify(x509.VerifyOptions{Roots: etcdPool(b), DNSName: "10.89.0.14"}); err == nil {
				t.Errorf("%s %s verifies for another address", m, what)
			}
		}
	}
	for _, id := range []pki.EtcdClient{pki.EtcdAPIServerClient, pki.EtcdHealthcheckClient} {
		c := b.Etcd.Clients[id].Cert
		if _, err := c.Verify(x509.VerifyOptions{Roots: etcdPool(b), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("etcd client %s: %v", id, err)
		}
	}
	if cn := b.Etcd.Clients[pki.EtcdAPIServerClient].Cert.Subject.CommonName; cn != "kube-apiserver-etcd-client" {
		t.Errorf("API server's etcd client CN %q", cn)
	}
}

// A server that demands a certificate from the etcd CA, as etcd does, takes
// the lab's etcd client and turns away the others.
func TestEtcdClientTLSPassesOnlyWithAnEtcdClientCertificate(t *testing.T) {
	cfg, _ := newConfig(t)
	b := generate(t, cfg)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{b.Etcd.Servers["cp-1"].TLSCertificate()},
		ClientCAs:    etcdPool(b), ClientAuth: tls.RequireAndVerifyClientCert,
	})
	must(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); io.WriteString(c, "ok"); c.Close() }()
		}
	}()
	good, err := b.Etcd.ClientTLS(pki.EtcdHealthcheckClient)
	must(t, err)
	noCert := &tls.Config{RootCAs: good.RootCAs}
	labCert := &tls.Config{RootCAs: good.RootCAs, Certificates: []tls.Certificate{b.Clients[pki.Admin].TLSCertificate()}}
	for name, c := range map[string]*tls.Config{"etcd client": good, "no certificate": noCert, "lab CA's admin": labCert} {
		err := roundTrip(ln.Addr().String(), c)
		if (err == nil) != (name == "etcd client") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := b.Etcd.ClientTLS("nobody"); err == nil || !strings.Contains(err.Error(), "healthcheck-client") {
		t.Errorf("ClientTLS of an unknown client: %v", err)
	}
}

// roundTrip reads the server's "ok": with TLS 1.3 a refused client
// certificate shows only on the first read.
func roundTrip(addr string, c *tls.Config) error {
	conn, err := tls.Dial("tcp", addr, c)
	if err != nil {
		return err
	}
	defer conn.Close()
	buf, err := io.ReadAll(conn)
	if err == nil && string(buf) != "ok" {
		err = errors.New("no answer")
	}
	return err
}

func TestEncryptionKeyIsKeptPrivateAndReused(t *testing.T) {
	cfg, _ := newConfig(t)
	b := generate(t, cfg)
	if len(b.EncryptionKey) != pki.EncryptionKeySize || b.EncryptionKeyFile != filepath.Join(cfg.Dir, "encryption.key") {
		t.Fatalf("key of %d bytes in %q", len(b.EncryptionKey), b.EncryptionKeyFile)
	}
	st, err := os.Stat(b.EncryptionKeyFile)
	must(t, err)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("encryption key mode %v, want 0600", st.Mode().Perm())
	}
	data, _ := os.ReadFile(b.EncryptionKeyFile)
	if strings.TrimSpace(string(data)) != base64.StdEncoding.EncodeToString(b.EncryptionKey) {
		t.Errorf("encryption key file %q is not the key in base64", data)
	}
	if again := generate(t, cfg); string(again.EncryptionKey) != string(b.EncryptionKey) {
		t.Error("a second Generate changed the encryption key")
	}
	loaded, err := pki.Load(cfg.Dir)
	must(t, err)
	if string(loaded.EncryptionKey) != string(b.EncryptionKey) || !mapsEqual(serials(loaded), serials(b)) {
		t.Error("Load read another encryption key or other etcd certificates")
	}

	must(t, os.WriteFile(b.EncryptionKeyFile, []byte("c2hvcnQ=\n"), 0o600))
	if _, err := pki.Generate(t.Context(), cfg); !errors.Is(err, pki.ErrInvalid) || !strings.Contains(err.Error(), "cannot be read") {
		t.Errorf("Generate with a short encryption key: %v", err)
	}
	if data, _ := os.ReadFile(b.EncryptionKeyFile); string(data) != "c2hvcnQ=\n" {
		t.Error("Generate replaced a bad encryption key")
	}
}

// A folder made before etcd took TLS still loads, without an etcd part.
func TestLoadAFolderWithoutEtcd(t *testing.T) {
	cfg, _ := newConfig(t)
	b := generate(t, cfg)
	must(t, os.RemoveAll(b.Paths.EtcdDir()))
	must(t, os.Remove(b.EncryptionKeyFile))
	got, err := pki.Load(cfg.Dir)
	if err != nil || got.Etcd != nil || got.EncryptionKey != nil {
		t.Fatalf("Load without etcd folder: %v (etcd %v)", err, got)
	}
}

func TestGenerateRejectsBadEtcdMembers(t *testing.T) {
	for name, ms := range map[string][]pki.EtcdMember{
		"bad name": {{Name: "cp/1", IP: members(1)[0].IP}},
		"no IP":    {{Name: "cp-1"}},
		"twice":    {members(1)[0], members(1)[0]},
	} {
		cfg, _ := newConfig(t)
		cfg.EtcdMembers = ms
		if _, err := pki.Generate(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "etcd member") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
