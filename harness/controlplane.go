package harness

import (
	"bufio"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	apiserverconfig "github.com/kinns/kinns/controlplane/apiserver/config"
	etcdconfig "github.com/kinns/kinns/controlplane/etcd/config"
	"github.com/kinns/kinns/controlplane/forward"
	"github.com/kinns/kinns/controlplane/pki"
	"github.com/kinns/kinns/harness/state"
	"github.com/kinns/kinns/harness/topology"
)

// APIPort is the API server's port on its host.
const APIPort = 6443

// Component names.
const (
	ComponentAPIServer = "apiserver"
	ComponentForward   = "forward"
)

// EtcdComponent names etcd member n (1-3).
func EtcdComponent(n int) string { return "etcd-" + strconv.Itoa(n) }

func (l *Lab) pkiNodes() []pki.Node {
	var ns []pki.Node
	for _, n := range l.plan.Nodes() {
		ns = append(ns, pki.Node{Name: n.Name, IP: n.IP})
	}
	return ns
}

func (l *Lab) etcdMembers() []pki.EtcdMember {
	var ms []pki.EtcdMember
	for _, h := range l.plan.ControlPlane() {
		ms = append(ms, pki.EtcdMember{Name: h.Name, IP: h.IP})
	}
	return ms
}

// PKIPaths names the files of the lab's pki, made by the pki step.
func (l *Lab) PKIPaths() pki.Paths { return pki.Paths{Dir: l.store.Path("pki")} }

// EtcdClientPort (gRPC, the API servers'), EtcdHTTPPort (/health,
// /metrics, /version) and EtcdPeerPort are the members' ports on their hosts.
const (
	EtcdClientPort = 2379
	EtcdPeerPort   = 2380
	EtcdHTTPPort   = 2381
)

// EtcdEndpoints are the members' client URLs on the fabric. They take TLS
// only, from holders of a certificate of the etcd CA (see EtcdClientTLS).
func (l *Lab) EtcdEndpoints() []string {
	var eps []string
	for _, h := range l.plan.ControlPlane() {
		eps = append(eps, etcdURL(h.IP.String(), EtcdClientPort))
	}
	return eps
}

// etcdFailoverList is the order in which the API server on h uses the etcd
// members, its own host's first, with their liveness URLs.
func (l *Lab) etcdFailoverList(h topology.Host) (servers, livez []string) {
	hosts := slices.Clone(l.plan.ControlPlane())
	slices.SortStableFunc(hosts, func(a, b topology.Host) int {
		return cmp.Compare(boolInt(a.Name != h.Name), boolInt(b.Name != h.Name))
	})
	for _, m := range hosts {
		servers = append(servers, etcdURL(m.IP.String(), EtcdClientPort))
		livez = append(livez, etcdURL(m.IP.String(), EtcdHTTPPort)+"/livez")
	}
	return servers, livez
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func etcdURL(host string, port int) string {
	return "https://" + net.JoinHostPort(host, strconv.Itoa(port))
}

// EtcdClientTLS is what a client of the lab's etcd needs: the lab's own etcd
// client certificate (the one health checks use) and the etcd CA.
func (l *Lab) EtcdClientTLS() (*tls.Config, error) {
	b, err := l.bundle()
	if err != nil {
		return nil, err
	}
	if b.Etcd == nil {
		return nil, fmt.Errorf("lab %s has no etcd certificates (made before etcd took TLS)", l.Name())
	}
	return b.Etcd.ClientTLS(pki.EtcdHealthcheckClient)
}

func (l *Lab) etcdConfig(h topology.Host, _ string) (any, error) {
	var peers []etcdconfig.Peer
	for _, p := range l.plan.ControlPlane() {
		peers = append(peers, etcdconfig.Peer{Name: p.Name, PeerURL: etcdURL(p.IP.String(), EtcdPeerPort)})
	}
	prof := l.Profile()
	p := l.PKIPaths()
	return etcdconfig.Config{
		Name: h.Name, DataDir: l.store.Path(filepath.Join("etcd", h.Name)),
		ClientURLs:     []string{etcdURL(h.IP.String(), EtcdClientPort), etcdURL("127.0.0.1", EtcdClientPort)},
		ClientHTTPURLs: []string{etcdURL(h.IP.String(), EtcdHTTPPort), etcdURL("127.0.0.1", EtcdHTTPPort)},
		PeerURL:        etcdURL(h.IP.String(), EtcdPeerPort),
		ClientTLS:      etcdconfig.TLS{CertFile: p.EtcdServerCert(h.Name), KeyFile: p.EtcdServerKey(h.Name), TrustedCAFile: p.EtcdCACert()},
		PeerTLS:        etcdconfig.TLS{CertFile: p.EtcdPeerCert(h.Name), KeyFile: p.EtcdPeerKey(h.Name), TrustedCAFile: p.EtcdCACert()},
		InitialCluster: peers, ClusterToken: l.Name(),
		HeartbeatInterval: prof.EtcdHeartbeat, ElectionTimeout: prof.EtcdElection,
		// A killed member keeps its data (the page cache has it); only a host
		// crash would lose it, and a lab does not outlive one.
		UnsafeNoFsync: true,
		EtcdLogLevel:  "warn",
	}, nil
}

// configured writes a component's config file and returns the component, which
// reports ready on the pipe it is given.
func (l *Lab) configured(name, host, kind string, cfg any) (component, error) {
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return component{}, err
	}
	path := l.store.Path(filepath.Join("config", name+".json"))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return component{}, err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return component{}, fmt.Errorf("write config of %s: %w", name, err)
	}
	return component{name: name, host: host, args: []string{kind, "--config", path}, readyPipe: true}, nil
}

// apiListener opens 127.0.0.1:<port> in the host's namespace, to hand to
// the forwarder inside the client host, which relays to the API server.
func (l *Lab) apiListener() ([]*os.File, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(l.apiPort))
	if err != nil {
		return nil, fmt.Errorf("listen on 127.0.0.1:%d for the API: %w", l.apiPort, err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		return nil, err
	}
	l.apiPort = ln.Addr().(*net.TCPAddr).Port
	if err := l.store.UpdateMeta(func(m *state.Meta) { m.APIPort = l.apiPort }); err != nil {
		f.Close()
		return nil, err
	}
	return []*os.File{f}, nil
}

// forwardConfig is the forwarder's: relay to the API server on cp-1.
func (l *Lab) forwardConfig(topology.Host, string) (any, error) {
	return forward.Config{ListenFD: 3, Target: l.apiAddress()}, nil
}

func (l *Lab) apiServerConfig(h topology.Host, _ string) (any, error) {
	p := l.PKIPaths()
	prof := l.Profile()
	cfg := apiserverconfig.Config{
		AdvertiseIP: h.IP.String(), Port: APIPort,
		EtcdCAFile: p.EtcdCACert(), EtcdCertFile: p.EtcdClientCert(pki.EtcdAPIServerClient), EtcdKeyFile: p.EtcdClientKey(pki.EtcdAPIServerClient),
		EncryptionConfigFile: l.store.Path(filepath.Join("config", "encryption-config.yaml")),
		ServiceCIDR:          topology.ServiceSubnet.String(),
		CertFile:             p.APIServerCert(), KeyFile: p.APIServerKey(), ClientCAFile: p.CACert(),
		SAPublicKeyFile: p.ServiceAccountPub(), SASigningKeyFile: p.ServiceAccountKey(),
		KubeletClientCertFile: p.ClientCert(pki.APIServerKubeletClient), KubeletClientKeyFile: p.ClientKey(pki.APIServerKubeletClient),
		FrontProxy: &apiserverconfig.FrontProxy{
			CAFile: p.FrontProxyCACert(), CertFile: p.FrontProxyClientCert(), KeyFile: p.FrontProxyClientKey(),
			AllowedNames: []string{pki.FrontProxyClientCN},
		},
		// cp hosts route to every node's pods but run no Service proxy
		// (topology.PodRoutes, ServiceRoutes): webhooks and aggregated APIs are
		// dialled at their endpoints, as on a managed control plane.
		EndpointRouting:    true,
		NotReadyToleration: prof.NotReadyToleration, UnreachableToleration: prof.UnreachableToleration,
		ExtendTokenExpiration: &prof.ExtendTokenExpiration,
		AuditLogPath:          l.LogPath(onHost("audit", h.Index)), AuditPolicyFile: l.store.Path(filepath.Join("config", "audit-policy.yaml")),
	}
	cfg.EtcdServers, cfg.EtcdLivez = l.etcdFailoverList(h)
	if err := os.MkdirAll(filepath.Dir(cfg.AuditPolicyFile), 0o755); err != nil {
		return nil, err
	}
	if err := writeAtomic(cfg.AuditPolicyFile, []byte(apiserverconfig.AuditPolicy), 0o644); err != nil {
		return nil, fmt.Errorf("write audit policy: %w", err)
	}
	return cfg, l.writeEncryptionConfig(cfg.EncryptionConfigFile)
}

// writeEncryptionConfig writes the API servers' EncryptionConfiguration,
// which holds the Secrets' key: private (0600), like the key's own file, and
// in one rename (writeAtomic).
func (l *Lab) writeEncryptionConfig(path string) error {
	b, err := l.bundle()
	if err != nil {
		return err
	}
	data, err := apiserverconfig.EncryptionConfig(b.EncryptionKey)
	if err != nil {
		return fmt.Errorf("encryption config from %s: %w", b.Paths.EncryptionKey(), err)
	}
	if err := writeAtomic(path, data, 0o600); err != nil {
		return fmt.Errorf("write encryption config: %w", err)
	}
	return nil
}

// writeAtomic replaces path with data in one rename, so that an API server
// starting meanwhile reads the old file or the new one, never half of one.
// The file is made with mode from the start.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*") // made 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	_, err = tmp.Write(data)
	err = errors.Join(err, tmp.Chmod(mode), tmp.Close())
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// AuditLogPath is the audit log of the API server on cp-1 (`lab logs audit`).
func (l *Lab) AuditLogPath() string { return l.LogPath("audit") }

// AuditLogPaths are the audit logs of every API server (`lab logs audit`,
// `lab logs audit/cp-2`…): each logs the requests it served.
func (l *Lab) AuditLogPaths() []string {
	var out []string
	for _, h := range l.apiServerHosts() {
		out = append(out, l.LogPath(onHost("audit", h.Index)))
	}
	return out
}

// APIServerURL is how the host reaches the API server.
func (l *Lab) APIServerURL() string { return "https://127.0.0.1:" + strconv.Itoa(l.apiPort) }

// KubeconfigPath is the admin kubeconfig of the lab.
func (l *Lab) KubeconfigPath() string { return l.store.Path("kubeconfig") }

// RESTConfig is an admin client configuration for the lab.
func (l *Lab) RESTConfig() (*rest.Config, error) { return l.RESTConfigAs(pki.Admin) }

// adminClient is a clientset for the lab as its admin, whose requests each
// give up after timeout (0: never).
func (l *Lab) adminClient(timeout time.Duration) (kubernetes.Interface, error) {
	rc, err := l.RESTConfig()
	if err != nil {
		return nil, err
	}
	rc.Timeout = timeout
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("client for lab %s: %w", l.Name(), err)
	}
	return cs, nil
}

// RESTConfigAs is a client configuration for the lab with the certificate of id
// (a node, the proxy, the scheduler…).
func (l *Lab) RESTConfigAs(id pki.Identity) (*rest.Config, error) {
	bundle, err := l.bundle()
	if err != nil {
		return nil, err
	}
	b, err := pki.Kubeconfig(bundle, id, l.APIServerURL())
	if err != nil {
		return nil, err
	}
	return clientcmd.RESTConfigFromKubeConfig(b)
}

// bundle is the lab's pki, loaded from its folder if this process did not
// make it.
func (l *Lab) bundle() (*pki.Bundle, error) {
	if l.pki == nil {
		b, err := pki.Load(l.PKIPaths().Dir)
		if err != nil {
			return nil, err
		}
		l.pki = b
	}
	return l.pki, nil
}

// apiReady asks the API server's /readyz, with the admin certificate.
func (l *Lab) apiReady(ctx context.Context) error {
	rc, err := l.RESTConfig()
	if err != nil {
		return err
	}
	tr, err := rest.TransportFor(rc)
	if err != nil {
		return err
	}
	return forward.GetOK(ctx, &http.Client{Transport: tr, Timeout: 2 * time.Second}, l.APIServerURL()+"/readyz")
}

// readReady waits for a component's "ready" line on its pipe.
func readReady(ctx context.Context, r *os.File) error {
	done := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if sc.Text() == "ready" {
				done <- nil
				return
			}
		}
		done <- fmt.Errorf("it closed its ready pipe without saying ready")
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		r.Close()
		return ctx.Err()
	}
}
