package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testCA signs client certificates for the tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "front-proxy-ca"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return testCA{cert, key}
}

func (ca testCA) client(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestWhoAmITrustsHeadersOnlyFromTheFrontProxy(t *testing.T) {
	ca := newTestCA(t)
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}), 0o644)
	mux := http.NewServeMux()
	whoamiRoutes(mux)
	srv := httptest.NewUnstartedServer(mux)
	srv.TLS = &tls.Config{}
	if err := requestHeaderTLS(srv.TLS, caFile); err != nil {
		t.Fatal(err)
	}
	srv.StartTLS()
	defer srv.Close()
	get := func(path string, certs ...tls.Certificate) (int, map[string]any) {
		tr := srv.Client().Transport.(*http.Transport).Clone()
		tr.TLSClientConfig.Certificates = certs
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("X-Remote-User", "alice")
		req.Header.Add("X-Remote-Group", "b")
		req.Header.Add("X-Remote-Group", "a")
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	code, body := get("/apis/whoami.kinns.io/v1/whoami", ca.client(t, "front-proxy-client"))
	if code != http.StatusOK || body["user"] != "alice" || len(body["groups"].([]any)) != 2 || body["groups"].([]any)[0] != "a" {
		t.Errorf("through the front proxy: %d %v", code, body)
	}
	if code, _ := get("/apis/whoami.kinns.io/v1/whoami"); code != http.StatusUnauthorized {
		t.Errorf("without a certificate: %d", code)
	}
	if code, _ := get("/apis/whoami.kinns.io/v1/whoami", ca.client(t, "someone-else")); code != http.StatusUnauthorized {
		t.Errorf("with another name: %d", code)
	}
	if code, body := get("/apis/whoami.kinns.io/v1"); code != http.StatusOK || body["kind"] != "APIResourceList" || body["groupVersion"] != "whoami.kinns.io/v1" {
		t.Errorf("discovery: %d %v", code, body)
	}
}
