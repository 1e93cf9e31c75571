package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	apiserverconfig "github.com/kinns/kinns/controlplane/apiserver/config"
	etcdconfig "github.com/kinns/kinns/controlplane/etcd/config"
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

// controlPlane brings up the PKI, the three etcd members, the host's way in and
// the API server, and writes the admin kubeconfig.
func (l *Lab) controlPlane(ctx context.Context) error {
	l.cfg.Progress("pki: lab CA and certificates")
	b, err := pki.Generate(ctx, pki.Config{Lab: l.Name(), Dir: l.store.Path("pki"), Nodes: l.pkiNodes(), Logger: l.log})
	if err != nil {
		return err
	}
	l.pki = b
	l.cfg.Progress("etcd: 3 members on cp-1..cp-3")
	if err := l.startEtcd(ctx); err != nil {
		return err
	}
	if err := l.startForward(ctx); err != nil {
		return err
	}
	l.cfg.Progress("api server on cp-1, reachable at " + l.APIServerURL())
	if err := l.startAPIServer(ctx); err != nil {
		return err
	}
	if err := pki.WriteKubeconfig(l.KubeconfigPath(), b, pki.Admin, l.APIServerURL()); err != nil {
		return err
	}
	l.cfg.Progress("scheduler and controller manager on cp-1")
	if err := l.startControllers(ctx); err != nil {
		return err
	}
	l.cfg.Progress(fmt.Sprintf("kubelets and proxies on node-1..node-%d, DNS on cp-2 and cp-3", len(l.plan.Nodes())))
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return l.startDNS(gctx) })
	g.Go(func() error { return l.startNodes(gctx) })
	return g.Wait()
}

func (l *Lab) pkiNodes() []pki.Node {
	var ns []pki.Node
	for _, n := range l.plan.Nodes() {
		ns = append(ns, pki.Node{Name: n.Name, IP: n.IP})
	}
	return ns
}

// EtcdEndpoints are the members' client URLs on the fabric.
func (l *Lab) EtcdEndpoints() []string {
	var eps []string
	for _, h := range l.plan.ControlPlane() {
		eps = append(eps, "http://"+h.IP.String()+":2379")
	}
	return eps
}

func (l *Lab) etcdConfig(h topology.Host) etcdconfig.Config {
	var peers []etcdconfig.Peer
	for _, p := range l.plan.ControlPlane() {
		peers = append(peers, etcdconfig.Peer{Name: p.Name, PeerURL: "http://" + p.IP.String() + ":2380"})
	}
	prof := TimingProfile(l.cfg.Timing)
	return etcdconfig.Config{
		Name: h.Name, DataDir: l.store.Path(filepath.Join("etcd", h.Name)),
		ClientURLs:     []string{"http://" + h.IP.String() + ":2379", "http://127.0.0.1:2379"},
		PeerURL:        "http://" + h.IP.String() + ":2380",
		InitialCluster: peers, ClusterToken: l.Name(),
		HeartbeatInterval: prof.EtcdHeartbeat, ElectionTimeout: prof.EtcdElection,
		// A killed member keeps its data (the page cache has it); only a host
		// crash would lose it, and a lab does not outlive one.
		UnsafeNoFsync: true,
		EtcdLogLevel:  "warn",
	}
}

// startEtcd starts the three members at once: none is ready before a quorum is.
func (l *Lab) startEtcd(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, h := range l.plan.ControlPlane() {
		c, err := l.configured(EtcdComponent(h.Index), h.Name, "etcd", l.etcdConfig(h))
		if err != nil {
			return err
		}
		g.Go(func() error { return l.start(gctx, c, 30*time.Second) })
	}
	return g.Wait()
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

// startForward opens 127.0.0.1:<port> in the host's namespace and hands it to a
// forwarder inside the client host, which relays to the API server.
func (l *Lab) startForward(ctx context.Context) error {
	port := l.apiPort
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return fmt.Errorf("listen on 127.0.0.1:%d for the API: %w", port, err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		return err
	}
	defer f.Close()
	l.apiPort = ln.Addr().(*net.TCPAddr).Port
	if err := l.store.UpdateMeta(func(m *state.Meta) { m.APIPort = l.apiPort }); err != nil {
		return err
	}
	cp1, _ := l.plan.Host("cp-1")
	target := net.JoinHostPort(cp1.IP.String(), strconv.Itoa(APIPort))
	c := component{name: ComponentForward, host: "client", files: []*os.File{f},
		args: []string{"forward", "--listen-fd", "3", "--target", target}}
	return l.start(ctx, c, 10*time.Second)
}

func (l *Lab) startAPIServer(ctx context.Context) error {
	cp1, _ := l.plan.Host("cp-1")
	p := l.pki.Paths
	prof := TimingProfile(l.cfg.Timing)
	cfg := apiserverconfig.Config{
		AdvertiseIP: cp1.IP.String(), Port: APIPort, EtcdServers: l.EtcdEndpoints(),
		ServiceCIDR: topology.ServiceSubnet.String(),
		CertFile:    p.APIServerCert(), KeyFile: p.APIServerKey(), ClientCAFile: p.CACert(),
		SAPublicKeyFile: p.ServiceAccountPub(), SASigningKeyFile: p.ServiceAccountKey(),
		KubeletClientCertFile: p.ClientCert(pki.APIServerKubeletClient), KubeletClientKeyFile: p.ClientKey(pki.APIServerKubeletClient),
		NotReadyToleration: prof.NotReadyToleration, UnreachableToleration: prof.UnreachableToleration,
		AuditLogPath: l.AuditLogPath(), AuditPolicyFile: l.store.Path(filepath.Join("config", "audit-policy.yaml")),
	}
	if err := os.MkdirAll(filepath.Dir(cfg.AuditPolicyFile), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(cfg.AuditPolicyFile, []byte(apiserverconfig.AuditPolicy), 0o644); err != nil {
		return fmt.Errorf("write audit policy: %w", err)
	}
	c, err := l.configured(ComponentAPIServer, cp1.Name, "apiserver", cfg)
	if err != nil {
		return err
	}
	c.ready = l.waitAPIReady
	c.readyPipe = false
	return l.start(ctx, c, 60*time.Second)
}

// AuditLogPath is the API server's audit log (`lab logs audit`).
func (l *Lab) AuditLogPath() string { return l.LogPath("audit") }

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
	if l.pki == nil {
		b, err := pki.Load(l.store.Path("pki"))
		if err != nil {
			return nil, err
		}
		l.pki = b
	}
	b, err := pki.Kubeconfig(l.pki, id, l.APIServerURL())
	if err != nil {
		return nil, err
	}
	return clientcmd.RESTConfigFromKubeConfig(b)
}

// waitAPIReady polls /readyz through the host's forwarder, with growing pauses.
func (l *Lab) waitAPIReady(ctx context.Context) error {
	pause := 50 * time.Millisecond
	for {
		err := l.apiReady(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("api server not ready (%v): %w", err, ctx.Err())
		case <-time.After(pause):
		}
		pause = min(pause*2, 500*time.Millisecond)
	}
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
	client := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	req, _ := http.NewRequestWithContext(ctx, "GET", l.APIServerURL()+"/readyz", nil)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/readyz: %s", resp.Status)
	}
	return nil
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
