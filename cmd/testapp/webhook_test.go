package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestParseWebhookFlags(t *testing.T) {
	cfg, err := parseWebhookFlags(nil, func(string) string { return "" })
	if err != nil || cfg.Addr != ":8443" || cfg.CertFile != "/etc/webhook/tls.crt" || cfg.KeyFile != "/etc/webhook/tls.key" || cfg.Rules != (webhookRules{}) {
		t.Errorf("defaults %+v %v", cfg, err)
	}
	env := map[string]string{"TESTAPP_DENY_LABEL": "a=b"}
	cfg, err = parseWebhookFlags([]string{"--port", "9443", "--add-label", "m=1"}, func(k string) string { return env[k] })
	if err != nil || cfg.Addr != ":9443" || cfg.Rules != (webhookRules{DenyLabel: "a=b", AddLabel: "m=1"}) {
		t.Errorf("flags and env %+v %v", cfg, err)
	}
	for _, args := range [][]string{{"--add-label", "novalue"}, {"--add-label", "=v"}, {"--deny-label", "=v"}, {"--port", "70000"}, {"extra"}} {
		if _, err := parseWebhookFlags(args, func(string) string { return "" }); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

// selfSigned writes a serving certificate for name and returns a pool that
// trusts it.
func selfSigned(t *testing.T, dir, name string) (webhookConfig, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := webhookConfig{Addr: "127.0.0.1:0", CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key")}
	os.WriteFile(cfg.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(cfg.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return cfg, pool
}

// The API server's call, over TLS with the name of the Service, answered.
func TestWebhookServesReviewsOverTLS(t *testing.T) {
	const name = "hook.default.svc"
	cfg, pool := selfSigned(t, t.TempDir(), name)
	ln, err := listenTLS(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- serveWebhook(ctx, ln, webhookRules{DenyLabel: "webhook=deny", AddLabel: "m=1"}, false, slog.New(slog.DiscardHandler))
	}()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: name},
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", ln.Addr().String())
		},
	}}
	post := func(path, body string, into any) int {
		resp, err := client.Post("https://"+name+path, "application/json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		defer resp.Body.Close()
		if into != nil {
			json.NewDecoder(resp.Body).Decode(into)
		}
		return resp.StatusCode
	}
	var review admissionReview
	post("/validate", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","operation":"CREATE","object":{"metadata":{"labels":{"webhook":"deny"}}}}}`, &review)
	if review.APIVersion != "admission.k8s.io/v1" || review.Kind != "AdmissionReview" || review.Response == nil || review.Response.UID != "u1" || review.Response.Allowed {
		t.Errorf("/validate answered %+v", review)
	}
	review = admissionReview{}
	post("/mutate", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u2","operation":"CREATE","object":{"metadata":{}}}}`, &review)
	if review.Response == nil || !review.Response.Allowed || review.Response.PatchType != "JSONPatch" {
		t.Errorf("/mutate answered %+v", review)
	}
	var conv conversionReview
	post("/convert", `{"apiVersion":"apiextensions.k8s.io/v1","kind":"ConversionReview","request":{"uid":"u3","desiredAPIVersion":"g/v2","objects":[{"apiVersion":"g/v1","kind":"K","metadata":{"name":"a"}}]}}`, &conv)
	if conv.Response == nil || conv.Response.UID != "u3" || len(conv.Response.ConvertedObjects) != 1 || conv.Response.ConvertedObjects[0]["apiVersion"] != "g/v2" {
		t.Errorf("/convert answered %+v", conv)
	}
	if code := post("/validate", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, nil); code != http.StatusBadRequest {
		t.Errorf("a review without a request: %d", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serveWebhook: %v", err)
	}
}

func TestListenTLSReportsAMissingCertificate(t *testing.T) {
	if _, err := listenTLS(webhookConfig{Addr: "127.0.0.1:0", CertFile: "/nonexistent/tls.crt", KeyFile: "/nonexistent/tls.key"}); err == nil {
		t.Error("no error without a certificate")
	}
}
