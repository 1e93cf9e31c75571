package pki_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kinns/kinns/controlplane/pki"
)

func TestKubeconfigYieldsARestConfig(t *testing.T) {
	cfg, _ := newConfig(t)
	b := generate(t, cfg)
	const server = "https://127.0.0.1:40123"
	for id, ctxName := range map[pki.Identity]string{
		pki.Admin: "kinns-t", "node-1": "kinns-t-node-1", pki.Proxy: "kinns-t-proxy",
		pki.Scheduler: "kinns-t-scheduler", pki.ControllerManager: "kinns-t-controller-manager",
	} {
		data, err := pki.Kubeconfig(b, id, server)
		if err != nil {
			t.Fatal(err)
		}
		kc, err := clientcmd.Load(data)
		if err != nil {
			t.Fatalf("%s: clientcmd.Load: %v", id, err)
		}
		kctx := kc.Contexts[kc.CurrentContext]
		if kc.CurrentContext != ctxName || kctx == nil || kctx.Cluster != "kinns-t" || kctx.AuthInfo != ctxName {
			t.Errorf("%s: current context %q = %+v", id, kc.CurrentContext, kctx)
		}
		rc, err := clientcmd.RESTConfigFromKubeConfig(data)
		if err != nil {
			t.Fatalf("%s: RESTConfigFromKubeConfig: %v", id, err)
		}
		client := b.Clients[id]
		tc := rc.TLSClientConfig
		if rc.Host != server || string(tc.CAData) != string(b.CA.CertPEM) ||
			string(tc.CertData) != string(client.CertPEM) || string(tc.KeyData) != string(client.KeyPEM) {
			t.Errorf("%s: rest.Config host %q or TLS data not the bundle's", id, rc.Host)
		}
	}
}

func TestWriteKubeconfigIsPrivateAndLoadable(t *testing.T) {
	cfg, _ := newConfig(t)
	b := generate(t, cfg)
	path := b.Paths.Kubeconfig(pki.Admin)
	if err := pki.WriteKubeconfig(path, b, pki.Admin, "https://10.89.0.11:6443"); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("kubeconfig: %v, mode %v", err, st.Mode().Perm())
	}
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil || rc.Host != "https://10.89.0.11:6443" {
		t.Fatalf("BuildConfigFromFlags: %v, host %q", err, rc.Host)
	}
}

func TestKubeconfigRejectsBadInput(t *testing.T) {
	cfg, _ := newConfig(t)
	b := generate(t, cfg)
	for _, tc := range []struct {
		id     pki.Identity
		server string
	}{
		{pki.Admin, "http://127.0.0.1:6443"},
		{pki.Admin, ""},
		{pki.Admin, "127.0.0.1:6443"},
		{"node-9", "https://127.0.0.1:6443"},
	} {
		if _, err := pki.Kubeconfig(b, tc.id, tc.server); err == nil {
			t.Errorf("Kubeconfig(%q, %q) succeeded", tc.id, tc.server)
		} else {
			t.Log(err)
		}
	}
	if err := pki.WriteKubeconfig(filepath.Join(cfg.Dir, "x.kubeconfig"), b, "nobody", "https://127.0.0.1:1"); err == nil {
		t.Errorf("WriteKubeconfig for an unknown identity succeeded")
	}
}

// startServer serves TLS with serving, requires a client certificate from the
// lab CA, and answers with the client's CN and O, as the API server's
// x509 authenticator would see them.
func startServer(t *testing.T, b *pki.Bundle, serving *pki.Pair) *httptest.Server {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := r.TLS.PeerCertificates[0]
		fmt.Fprintf(w, "%s %s", c.Subject.CommonName, strings.Join(c.Subject.Organization, ","))
	}))
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{serving.TLSCertificate()},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    b.CAPool(),
		MinVersion:   tls.VersionTLS12,
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // rejected handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// get dials url as identity id, through the transport client-go builds from the
// kubeconfig; serverName, if set, overrides the name the server must prove.
func get(t *testing.T, b *pki.Bundle, id pki.Identity, url, serverName string) (string, error) {
	t.Helper()
	rc := restConfig(t, b, id, url)
	rc.TLSClientConfig.ServerName = serverName
	return do(t, rc, url)
}

func restConfig(t *testing.T, b *pki.Bundle, id pki.Identity, url string) *rest.Config {
	t.Helper()
	data, err := pki.Kubeconfig(b, id, url)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := clientcmd.RESTConfigFromKubeConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

func do(t *testing.T, rc *rest.Config, url string) (string, error) {
	t.Helper()
	rt, err := rest.TransportFor(rc)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: rt, Timeout: 10 * time.Second}).Get(url + "/version")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

func TestClientsAndAPIServerAuthenticateEachOther(t *testing.T) {
	cfg, _ := newConfig(t)
	b := generate(t, cfg)
	srv := startServer(t, b, b.APIServer)
	if !strings.HasPrefix(srv.URL, "https://127.0.0.1:") {
		t.Fatalf("server URL %s", srv.URL)
	}
	for id, want := range map[pki.Identity]string{
		pki.Admin:     "kinns-admin system:masters",
		"node-2":      "system:node:node-2 system:nodes",
		pki.Scheduler: "system:kube-scheduler ",
	} {
		got, err := get(t, b, id, srv.URL, "")
		if err != nil || got != want {
			t.Errorf("%s: got %q, %v; want %q", id, got, err, want)
		}
	}

	otherCfg, _ := newConfig(t)
	otherCfg.Lab = "other"
	other := generate(t, otherCfg)
	if got, err := get(t, other, pki.Admin, srv.URL, ""); err == nil {
		t.Errorf("another lab's kubeconfig got through: %q", got)
	} else {
		t.Logf("another lab's kubeconfig: %v", err)
	}
	// Trusting this lab's CA is not enough: the server checks the client too.
	rc := restConfig(t, other, pki.Admin, srv.URL)
	rc.TLSClientConfig.CAData = b.CA.CertPEM
	if got, err := do(t, rc, srv.URL); err == nil {
		t.Errorf("another lab's admin certificate got through: %q", got)
	} else {
		t.Logf("another lab's admin certificate: %v", err)
	}
}

// The API server calls kubelets (logs, exec) with its kubelet client
// certificate and checks the kubelet's serving certificate names the node.
func TestAPIServerAuthenticatesKubelets(t *testing.T) {
	cfg, _ := newConfig(t)
	b := generate(t, cfg)
	kubelet := startServer(t, b, b.Kubelets["node-1"])
	got, err := get(t, b, pki.APIServerKubeletClient, kubelet.URL, "node-1")
	if want := "kube-apiserver-kubelet-client system:masters"; err != nil || got != want {
		t.Errorf("API server -> kubelet node-1: %q, %v; want %q", got, err, want)
	}
	if _, err := get(t, b, pki.APIServerKubeletClient, kubelet.URL, "node-2"); err == nil {
		t.Errorf("node-1's kubelet passed for node-2")
	}
}
