package pki_test

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"

	"github.com/kinns/kinns/controlplane/pki"
)

// clock is a settable Config.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func nodes(n int) []pki.Node {
	var out []pki.Node
	for i := 1; i <= n; i++ {
		out = append(out, pki.Node{Name: fmt.Sprintf("node-%d", i), IP: netip.AddrFrom4([4]byte{10, 89, 0, byte(20 + i)})})
	}
	return out
}

func members(n int) []pki.EtcdMember {
	var out []pki.EtcdMember
	for i := 1; i <= n; i++ {
		out = append(out, pki.EtcdMember{Name: fmt.Sprintf("cp-%d", i), IP: netip.AddrFrom4([4]byte{10, 89, 0, byte(10 + i)})})
	}
	return out
}

// newConfig is a 3-node lab in a fresh folder, on a clock that starts now (so
// that TLS handshakes, which use the real time, accept the certificates).
func newConfig(t testing.TB) (pki.Config, *clock) {
	clk := &clock{now: time.Now()}
	return pki.Config{Lab: "t", Dir: filepath.Join(t.TempDir(), "pki"), Nodes: nodes(3), EtcdMembers: members(3), Now: clk.Now}, clk
}

func generate(t testing.TB, cfg pki.Config) *pki.Bundle {
	t.Helper()
	b, err := pki.Generate(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return b
}

// allPairs lists every leaf of b by a readable name.
func allPairs(b *pki.Bundle) map[string]*pki.Pair {
	m := map[string]*pki.Pair{"apiserver": b.APIServer}
	for id, p := range b.Clients {
		m["client "+string(id)] = p
	}
	for n, p := range b.Kubelets {
		m["kubelet "+n] = p
	}
	for n, p := range b.Etcd.Servers {
		m["etcd server "+n] = p
	}
	for n, p := range b.Etcd.Peers {
		m["etcd peer "+n] = p
	}
	for id, p := range b.Etcd.Clients {
		m["etcd client "+string(id)] = p
	}
	return m
}

func serials(b *pki.Bundle) map[string]string {
	m := map[string]string{"ca": b.CA.Cert.SerialNumber.String(), "etcd ca": b.Etcd.CA.Cert.SerialNumber.String()}
	for name, p := range allPairs(b) {
		m[name] = p.Cert.SerialNumber.String()
	}
	return m
}

func verify(t *testing.T, b *pki.Bundle, name string, c *x509.Certificate, usage x509.ExtKeyUsage, host string) {
	t.Helper()
	_, err := c.Verify(x509.VerifyOptions{Roots: b.CAPool(), DNSName: host, KeyUsages: []x509.ExtKeyUsage{usage}})
	if err != nil {
		t.Errorf("%s does not verify against the lab CA (host %q): %v", name, host, err)
	}
	if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{usage}) {
		t.Errorf("%s: extended key usage %v, want only %v", name, c.ExtKeyUsage, usage)
	}
}

func TestGenerateMakesTheCA(t *testing.T) {
	cfg, clk := newConfig(t)
	b := generate(t, cfg)
	ca := b.CA.Cert
	if ca.Subject.CommonName != "kinns-t-ca" || !ca.IsCA || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA: CN %q IsCA %v usage %v", ca.Subject.CommonName, ca.IsCA, ca.KeyUsage)
	}
	if err := ca.CheckSignatureFrom(ca); err != nil {
		t.Errorf("CA is not self-signed: %v", err)
	}
	if want := clk.Now().Add(pki.DefaultCAValidity); !ca.NotAfter.Equal(want.Truncate(time.Second)) {
		t.Errorf("CA NotAfter %v, want %v", ca.NotAfter, want)
	}
	if b.Lab != "t" {
		t.Errorf("bundle lab %q", b.Lab)
	}
}

func TestAPIServerCertificateServesEveryName(t *testing.T) {
	cfg, clk := newConfig(t)
	cfg.ExtraIPs = []netip.Addr{netip.MustParseAddr("192.0.2.7")}
	cfg.ExtraDNSNames = []string{"api.example"}
	b := generate(t, cfg)
	c := b.APIServer.Cert
	wantIPs := []string{"127.0.0.1", "10.89.0.10", "10.89.0.11", "10.89.0.12", "10.89.0.13", "10.96.0.1", "192.0.2.7"}
	wantDNS := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "api.example"}
	var gotIPs []string
	for _, ip := range c.IPAddresses {
		gotIPs = append(gotIPs, ip.String())
	}
	if !slices.Equal(gotIPs, wantIPs) || !slices.Equal(c.DNSNames, wantDNS) {
		t.Errorf("API server SANs: IPs %v DNS %v, want %v %v", gotIPs, c.DNSNames, wantIPs, wantDNS)
	}
	for _, host := range slices.Concat(wantIPs, wantDNS) {
		verify(t, b, "API server", c, x509.ExtKeyUsageServerAuth, host)
	}
	if want := clk.Now().Add(pki.DefaultValidity).Truncate(time.Second); !c.NotAfter.Equal(want) {
		t.Errorf("API server NotAfter %v, want one year from now (%v)", c.NotAfter, want)
	}
}

func TestClientCertificatesNameWhatKubernetesAuthorizes(t *testing.T) {
	cfg, _ := newConfig(t)
	b := generate(t, cfg)
	want := map[pki.Identity]struct {
		cn  string
		org []string
	}{
		pki.Admin:                  {"kinns-admin", []string{"system:masters"}},
		pki.APIServerKubeletClient: {"kube-apiserver-kubelet-client", []string{"system:masters"}},
		pki.Proxy:                  {"system:kube-proxy", nil},
		pki.Scheduler:              {"system:kube-scheduler", nil},
		pki.ControllerManager:      {"system:kube-controller-manager", nil},
		pki.DNS:                    {"system:coredns", nil},
		pki.CloudControllerManager: {"system:cloud-controller-manager", nil},
		"node-1":                   {"system:node:node-1", []string{"system:nodes"}},
		"node-2":                   {"system:node:node-2", []string{"system:nodes"}},
		"node-3":                   {"system:node:node-3", []string{"system:nodes"}},
	}
	if len(b.Clients) != len(want) {
		t.Errorf("%d client certificates, want %d", len(b.Clients), len(want))
	}
	for id, w := range want {
		p, err := b.Client(id)
		if err != nil {
			t.Fatal(err)
		}
		s := p.Cert.Subject
		if s.CommonName != w.cn || !slices.Equal(s.Organization, w.org) {
			t.Errorf("%s: CN %q O %q, want %q %q", id, s.CommonName, s.Organization, w.cn, w.org)
		}
		if len(p.Cert.DNSNames)+len(p.Cert.IPAddresses) != 0 {
			t.Errorf("%s: a client certificate carries SANs", id)
		}
		verify(t, b, string(id), p.Cert, x509.ExtKeyUsageClientAuth, "")
	}
}

func TestKubeletCertificatesServeTheNodeNameAndIP(t *testing.T) {
	cfg, _ := newConfig(t)
	b := generate(t, cfg)
	if got := b.Nodes(); !slices.Equal(got, []string{"node-1", "node-2", "node-3"}) {
		t.Errorf("nodes %v", got)
	}
	for i, n := range []string{"node-1", "node-2", "node-3"} {
		c := b.Kubelets[n].Cert
		ip := fmt.Sprintf("10.89.0.%d", 21+i)
		if !slices.Equal(c.DNSNames, []string{n}) || len(c.IPAddresses) != 1 || c.IPAddresses[0].String() != ip {
			t.Errorf("%s kubelet SANs: %v %v", n, c.DNSNames, c.IPAddresses)
		}
		verify(t, b, "kubelet "+n, c, x509.ExtKeyUsageServerAuth, ip)
		verify(t, b, "kubelet "+n, c, x509.ExtKeyUsageServerAuth, n)
		if _, err := c.Verify(x509.VerifyOptions{Roots: b.CAPool(), DNSName: "10.89.0.99"}); err == nil {
			t.Errorf("%s kubelet certificate verifies for another node's address", n)
		}
	}
}

func TestFilesHaveStableNamesAndModes(t *testing.T) {
	cfg, _ := newConfig(t)
	b := generate(t, cfg)
	p := b.Paths
	want := map[string]os.FileMode{p.CACert(): 0o644, p.CAKey(): 0o600, p.APIServerCert(): 0o644, p.APIServerKey(): 0o600,
		p.ServiceAccountKey(): 0o600, p.ServiceAccountPub(): 0o644}
	for _, id := range []pki.Identity{pki.Admin, pki.APIServerKubeletClient, pki.Proxy, pki.Scheduler, pki.ControllerManager, "node-2"} {
		want[p.ClientCert(id)], want[p.ClientKey(id)] = 0o644, 0o600
	}
	want[p.KubeletCert("node-3")], want[p.KubeletKey("node-3")] = 0o644, 0o600
	for _, name := range []string{"ca.crt", "apiserver.key", "admin.crt", "apiserver-kubelet-client.key", "controller-manager.crt",
		"node-1.crt", "kubelet-node-1.key", "sa.key", "sa.pub"} {
		if _, ok := want[filepath.Join(cfg.Dir, name)]; !ok && !strings.Contains(name, "node-1") {
			t.Errorf("Paths has no file named %s", name)
		}
	}
	for f, mode := range want {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", f, st.Mode().Perm(), mode)
		}
	}
	if st, _ := os.Stat(cfg.Dir); st.Mode().Perm() != 0o700 {
		t.Errorf("pki folder mode %v, want 0700", st.Mode().Perm())
	}
	if p.Kubeconfig(pki.Admin) != filepath.Join(cfg.Dir, "admin.kubeconfig") {
		t.Errorf("admin kubeconfig path %s", p.Kubeconfig(pki.Admin))
	}
}

// The files are read by kube-apiserver and client-go with these functions.
func TestFilesParseWithKubernetesLoaders(t *testing.T) {
	cfg, _ := newConfig(t)
	b := generate(t, cfg)
	for name, p := range allPairs(b) {
		if _, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := keyutil.PrivateKeyFromFile(p.KeyFile); err != nil {
			t.Errorf("%s key: %v", name, err)
		}
	}
	if _, err := certutil.NewPool(b.Paths.CACert()); err != nil {
		t.Errorf("ca.crt: %v", err)
	}
	priv, err := keyutil.PrivateKeyFromFile(b.Paths.ServiceAccountKey())
	if err != nil {
		t.Fatalf("sa.key: %v", err)
	}
	pubs, err := keyutil.PublicKeysFromFile(b.Paths.ServiceAccountPub())
	if err != nil || len(pubs) != 1 {
		t.Fatalf("sa.pub: %v (%d keys)", err, len(pubs))
	}
	if !samePublic(b.ServiceAccount.Key.Public(), pubs[0]) || priv == nil {
		t.Errorf("sa.pub is not the public half of sa.key")
	}
}

func TestGenerateReusesValidFiles(t *testing.T) {
	cfg, clk := newConfig(t)
	first := serials(generate(t, cfg))
	saBefore, _ := os.ReadFile(filepath.Join(cfg.Dir, "sa.key"))
	clk.Advance(30 * 24 * time.Hour)
	second := generate(t, cfg)
	if got := serials(second); !mapsEqual(got, first) {
		t.Errorf("second Generate changed certificates:\n got %v\nwant %v", got, first)
	}
	if saAfter, _ := os.ReadFile(filepath.Join(cfg.Dir, "sa.key")); string(saAfter) != string(saBefore) {
		t.Errorf("second Generate changed sa.key")
	}
}

func TestGenerateReplacesDamagedOrMissingLeaves(t *testing.T) {
	cfg, _ := newConfig(t)
	before := serials(generate(t, cfg))
	p := pki.Paths{Dir: cfg.Dir}
	must(t, os.WriteFile(p.ClientCert(pki.Admin), []byte("not a certificate"), 0o644))
	must(t, os.Remove(p.ClientKey("node-2")))
	must(t, os.Remove(p.KubeletCert("node-3")))
	otherKey, _ := os.ReadFile(p.ClientKey(pki.Scheduler))
	must(t, os.WriteFile(p.ClientKey(pki.Proxy), otherKey, 0o600)) // key no longer matches proxy.crt

	b := generate(t, cfg)
	after := serials(b)
	replaced := []string{"client admin", "client node-2", "kubelet node-3", "client proxy"}
	for name, s := range after {
		if slices.Contains(replaced, name) == (s == before[name]) {
			t.Errorf("%s: serial %s -> %s, want replaced=%v", name, before[name], s, slices.Contains(replaced, name))
		}
	}
	for name, pair := range allPairs(b) {
		if _, err := tls.LoadX509KeyPair(pair.CertFile, pair.KeyFile); err != nil {
			t.Errorf("%s after repair: %v", name, err)
		}
		ca := b.CA.Cert
		if strings.HasPrefix(name, "etcd ") {
			ca = b.Etcd.CA.Cert
		}
		if err := pair.Cert.CheckSignatureFrom(ca); err != nil {
			t.Errorf("%s after repair: %v", name, err)
		}
	}
}

// ca.crt can be re-made from ca.key without invalidating anything signed before.
func TestGenerateResignsAMissingCACertificateWithItsKey(t *testing.T) {
	cfg, _ := newConfig(t)
	first := generate(t, cfg)
	before := serials(first)
	must(t, os.Remove(first.Paths.CACert()))
	b := generate(t, cfg)
	after := serials(b)
	if after["ca"] == before["ca"] {
		t.Errorf("ca.crt was not re-made")
	}
	if !samePublic(b.CA.Cert.PublicKey, first.CA.Cert.PublicKey) {
		t.Errorf("re-made CA has a new key")
	}
	delete(after, "ca")
	delete(before, "ca")
	if !mapsEqual(after, before) {
		t.Errorf("leaves were replaced though the CA key stayed")
	}
	verify(t, b, "old admin cert", first.Clients[pki.Admin].Cert, x509.ExtKeyUsageClientAuth, "")
}

func TestGenerateReportsBrokenRootsOfTrust(t *testing.T) {
	for _, tc := range []struct {
		name   string
		breakF func(p pki.Paths) error
		is     error
		file   string
	}{
		{"corrupt ca.key", func(p pki.Paths) error { return os.WriteFile(p.CAKey(), []byte("garbage"), 0o600) }, pki.ErrInvalid, "ca.key"},
		{"ca.key gone, ca.crt left", func(p pki.Paths) error { return os.Remove(p.CAKey()) }, fs.ErrNotExist, "ca.key"},
		{"corrupt sa.key", func(p pki.Paths) error { return os.WriteFile(p.ServiceAccountKey(), nil, 0o600) }, pki.ErrInvalid, "sa.key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _ := newConfig(t)
			generate(t, cfg)
			must(t, tc.breakF(pki.Paths{Dir: cfg.Dir}))
			_, err := pki.Generate(context.Background(), cfg)
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), filepath.Join(cfg.Dir, tc.file)) {
				t.Fatalf("Generate: %v; want an error matching %v that names %s", err, tc.is, tc.file)
			}
			t.Log(err)
		})
	}
}

func TestGenerateRewritesAMismatchedPublicSAKey(t *testing.T) {
	cfg, _ := newConfig(t)
	b := generate(t, cfg)
	must(t, os.WriteFile(b.Paths.ServiceAccountPub(), []byte("junk"), 0o644))
	generate(t, cfg)
	got, _ := os.ReadFile(b.Paths.ServiceAccountPub())
	if string(got) != string(b.ServiceAccount.PubPEM) {
		t.Errorf("sa.pub not restored")
	}
}

func TestGenerateRenewsCertificatesNearExpiry(t *testing.T) {
	cfg, clk := newConfig(t)
	before := serials(generate(t, cfg))
	clk.Advance(340 * 24 * time.Hour) // past nine tenths of a year
	after := serials(generate(t, cfg))
	for name := range before {
		if renewed := after[name] != before[name]; renewed == (name == "ca" || name == "etcd ca") {
			t.Errorf("%s: renewed=%v after 340 days", name, renewed)
		}
	}
	clk.Advance(10 * 365 * 24 * time.Hour) // the CA itself has expired
	b := generate(t, cfg)
	if serials(b)["ca"] == after["ca"] {
		t.Errorf("expired CA was not re-signed")
	}
	opts := x509.VerifyOptions{Roots: b.CAPool(), CurrentTime: clk.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if _, err := b.Clients[pki.Admin].Cert.Verify(opts); err != nil {
		t.Errorf("admin certificate after the CA was re-signed: %v", err)
	}
}

func TestGenerateFollowsConfigChanges(t *testing.T) {
	cfg, _ := newConfig(t)
	before := serials(generate(t, cfg))
	cfg.ExtraDNSNames = []string{"api.lab.test"}
	cfg.Nodes = nodes(4)
	b := generate(t, cfg)
	after := serials(b)
	for name, s := range before {
		if changed := after[name] != s; changed != (name == "apiserver") {
			t.Errorf("%s: changed=%v", name, changed)
		}
	}
	if !slices.Contains(b.APIServer.Cert.DNSNames, "api.lab.test") || after["kubelet node-4"] == "" || after["client node-4"] == "" {
		t.Errorf("config change not applied: %v, %v", b.APIServer.Cert.DNSNames, after)
	}
}

func TestGenerateRejectsBadConfig(t *testing.T) {
	dir := t.TempDir()
	ip := netip.MustParseAddr("10.89.0.21")
	for name, cfg := range map[string]pki.Config{
		"no lab":          {Dir: dir},
		"bad lab":         {Lab: "My_Lab", Dir: dir},
		"no dir":          {Lab: "x"},
		"reserved node":   {Lab: "x", Dir: dir, Nodes: []pki.Node{{Name: "admin", IP: ip}}},
		"kubelet- node":   {Lab: "x", Dir: dir, Nodes: []pki.Node{{Name: "kubelet-a", IP: ip}}},
		"node twice":      {Lab: "x", Dir: dir, Nodes: []pki.Node{{Name: "a", IP: ip}, {Name: "a", IP: ip}}},
		"node without IP": {Lab: "x", Dir: dir, Nodes: []pki.Node{{Name: "a"}}},
		"path in name":    {Lab: "x", Dir: dir, Nodes: []pki.Node{{Name: "../a", IP: ip}}},
	} {
		if _, err := pki.Generate(context.Background(), cfg); err == nil {
			t.Errorf("%s: Generate accepted %+v", name, cfg)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("rejected configs left files: %v", entries)
	}
}

func TestConcurrentGenerateMakesOneCA(t *testing.T) {
	cfg, _ := newConfig(t)
	var wg sync.WaitGroup
	results := make([]*pki.Bundle, 4)
	for i := range results {
		wg.Go(func() { results[i], _ = pki.Generate(context.Background(), cfg) })
	}
	wg.Wait()
	for i, b := range results {
		if b == nil || !mapsEqual(serials(b), serials(results[0])) {
			t.Fatalf("call %d made different certificates", i)
		}
	}
}

func TestGenerateStopsWhenCancelled(t *testing.T) {
	cfg, _ := newConfig(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := pki.Generate(ctx, cfg); !errors.Is(err, context.Canceled) {
		t.Errorf("Generate with a cancelled context: %v", err)
	}
}

func TestLoadReadsWhatGenerateWrote(t *testing.T) {
	cfg, _ := newConfig(t)
	want := generate(t, cfg)
	got, err := pki.Load(cfg.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Lab != "t" || !mapsEqual(serials(got), serials(want)) || !slices.Equal(got.Nodes(), want.Nodes()) {
		t.Errorf("Load: lab %q serials %v nodes %v", got.Lab, serials(got), got.Nodes())
	}
	if string(got.ServiceAccount.PubPEM) != string(want.ServiceAccount.PubPEM) {
		t.Errorf("Load: different service account key")
	}

	must(t, os.WriteFile(want.Paths.ClientCert("node-2"), want.Clients[pki.Admin].CertPEM, 0o644))
	if _, err := pki.Load(cfg.Dir); !errors.Is(err, pki.ErrInvalid) || !strings.Contains(err.Error(), "node-2.crt") {
		t.Errorf("Load with admin's certificate as node-2's: %v", err)
	}
	if _, err := pki.Load(t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of an empty folder: %v", err)
	}
}

func BenchmarkGenerate3Nodes(b *testing.B) {
	for b.Loop() {
		cfg, _ := newConfig(b)
		generate(b, cfg)
	}
}

func BenchmarkGenerateReuse3Nodes(b *testing.B) {
	cfg, _ := newConfig(b)
	generate(b, cfg)
	for b.Loop() {
		generate(b, cfg)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func samePublic(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}
