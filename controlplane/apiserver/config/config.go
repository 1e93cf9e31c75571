// Package config is the API server's configuration: plain data and the
// kube-apiserver flags it makes, with no import of the server itself, so
// that the harness and the specs can write it without linking the API
// server (the lab binary runs it as its own process).
package config

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	etcdconfig "github.com/kinns/kinns/controlplane/etcd/config"
)

// Config is one API server of a lab.
type Config struct {
	// AdvertiseIP is the address other components and the `kubernetes` Service
	// endpoints use to reach this server.
	AdvertiseIP string
	// Port is the secure port (default 6443).
	Port int
	// EtcdServers are the etcd client URLs; https ones need EtcdCAFile,
	// EtcdCertFile and EtcdKeyFile: the CA of the members' certificates and
	// the client certificate they demand.
	EtcdServers                           []string
	EtcdCAFile, EtcdCertFile, EtcdKeyFile string
	// EncryptionConfigFile, if set, is an EncryptionConfiguration (see
	// EncryptionConfig) that says how resources are encrypted in etcd.
	EncryptionConfigFile string
	// EtcdLivez, if set, are the liveness URLs (/livez) of EtcdServers,
	// one each: the store then uses the first live member in EtcdServers'
	// order (the server's own host's first), through a relay that moves to
	// the next one when it stops answering (see the apiserver package).
	EtcdLivez []string
	// ServiceCIDR is the Service ClusterIP range (default 10.96.0.0/16).
	ServiceCIDR string
	// NodePortRange is the NodePort range (default 30000-32767).
	NodePortRange string
	// Files of the lab's PKI.
	CertFile, KeyFile, ClientCAFile             string
	SAPublicKeyFile, SASigningKeyFile           string
	KubeletClientCertFile, KubeletClientKeyFile string
	// FrontProxy, if set, lets the aggregator proxy to extension API servers
	// (APIServices backed by a Service): it presents a client certificate of
	// its own CA and passes the caller on in request headers.
	FrontProxy *FrontProxy
	// EndpointRouting is --enable-aggregator-routing: admission webhooks,
	// conversion webhooks and aggregated APIs are dialled at one of their
	// Service's ready endpoints (a pod address) instead of its ClusterIP. A
	// control-plane host that runs no Service proxy, as on managed clusters,
	// reaches pods but not ClusterIPs.
	EndpointRouting bool
	// NotReadyToleration and UnreachableToleration are the tolerations that
	// DefaultTolerationSeconds adds to every pod; the timing profile sets them.
	NotReadyToleration, UnreachableToleration time.Duration
	// ExtendTokenExpiration is --service-account-extend-token-expiration:
	// nil leaves upstream's default (true: a kubelet's 3607 s token lives a
	// year).
	ExtendTokenExpiration *bool
	// Quorum guard: how often etcd's quorum is probed, and how long one probe may
	// take before quorum counts as lost.
	QuorumProbeInterval, QuorumProbeTimeout time.Duration
	// AuditLogPath, if set, receives the audit log: one JSON event per
	// request, as AuditPolicy (below) says; AuditPolicyFile is where that
	// policy is written for the server to read.
	AuditLogPath, AuditPolicyFile string
	// Verbosity is klog's -v.
	Verbosity int
	Log       *slog.Logger
}

// Defaults fills in what is unset.
func (c *Config) Defaults() {
	if c.Port == 0 {
		c.Port = 6443
	}
	if c.ServiceCIDR == "" {
		c.ServiceCIDR = "10.96.0.0/16"
	}
	if c.NodePortRange == "" {
		c.NodePortRange = "30000-32767"
	}
	if c.NotReadyToleration == 0 {
		c.NotReadyToleration = 300 * time.Second
	}
	if c.UnreachableToleration == 0 {
		c.UnreachableToleration = 300 * time.Second
	}
	if c.QuorumProbeInterval == 0 {
		c.QuorumProbeInterval = 250 * time.Millisecond
	}
	if c.QuorumProbeTimeout == 0 {
		c.QuorumProbeTimeout = time.Second
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// Validate says what is missing or wrong.
func (c Config) Validate() error {
	var missing []string
	for name, v := range map[string]string{
		"advertise IP": c.AdvertiseIP, "serving cert": c.CertFile, "serving key": c.KeyFile,
		"client CA": c.ClientCAFile, "service-account public key": c.SAPublicKeyFile,
		"service-account signing key": c.SASigningKeyFile,
	} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(c.EtcdServers) == 0 {
		missing = append(missing, "etcd servers")
	}
	if c.etcdTLS() && (c.EtcdCAFile == "" || c.EtcdCertFile == "" || c.EtcdKeyFile == "") {
		missing = append(missing, "etcd CA, client certificate or key (the etcd servers are https)")
	}
	if fp := c.FrontProxy; fp != nil && (fp.CAFile == "" || fp.CertFile == "" || fp.KeyFile == "" || len(fp.AllowedNames) == 0) {
		missing = append(missing, "front proxy CA, client certificate, key or allowed names")
	}
	if len(c.EtcdLivez) > 0 && len(c.EtcdLivez) != len(c.EtcdServers) {
		return fmt.Errorf("api server config has %d etcd liveness URLs for %d etcd servers", len(c.EtcdLivez), len(c.EtcdServers))
	}
	if len(missing) > 0 {
		return fmt.Errorf("api server config lacks %s", strings.Join(missing, ", "))
	}
	return nil
}

func (c Config) etcdTLS() bool {
	for _, s := range c.EtcdServers {
		if strings.HasPrefix(s, "https://") {
			return true
		}
	}
	return false
}

// Etcd is how this server reaches etcd, for clients of its own beside the
// store's (the quorum guard).
func (c Config) Etcd() etcdconfig.Client {
	return etcdconfig.Client{Endpoints: c.EtcdServers, CAFile: c.EtcdCAFile, CertFile: c.EtcdCertFile, KeyFile: c.EtcdKeyFile}
}

// Flags are the kube-apiserver flags for this config.
func (c Config) Flags() []string {
	c.Defaults()
	f := []string{
		"--advertise-address=" + c.AdvertiseIP,
		"--bind-address=0.0.0.0",
		"--secure-port=" + strconv.Itoa(c.Port),
		"--etcd-servers=" + strings.Join(c.EtcdServers, ","),
		"--service-cluster-ip-range=" + c.ServiceCIDR,
		"--service-node-port-range=" + c.NodePortRange,
		"--tls-cert-file=" + c.CertFile,
		"--tls-private-key-file=" + c.KeyFile,
		"--client-ca-file=" + c.ClientCAFile,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + c.SAPublicKeyFile,
		"--service-account-signing-key-file=" + c.SASigningKeyFile,
		// Every request must carry a certificate or a token: anonymous ones get 401.
		"--anonymous-auth=false",
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--default-not-ready-toleration-seconds=" + seconds(c.NotReadyToleration),
		"--default-unreachable-toleration-seconds=" + seconds(c.UnreachableToleration),
		"--kubelet-preferred-address-types=InternalIP",
		"--allow-privileged=true",
		"--profiling=false",
		// Priority and fairness guards big shared clusters; in a lab it only adds
		// start-up time and controllers.
		"--enable-priority-and-fairness=false",
		"--v=" + strconv.Itoa(c.Verbosity),
	}
	if c.KubeletClientCertFile != "" {
		f = append(f,
			"--kubelet-client-certificate="+c.KubeletClientCertFile,
			"--kubelet-client-key="+c.KubeletClientKeyFile,
			"--kubelet-certificate-authority="+c.ClientCAFile,
		)
	}
	if c.FrontProxy != nil {
		f = append(f, c.FrontProxy.flags()...)
	}
	if c.EndpointRouting {
		f = append(f, "--enable-aggregator-routing=true")
	}
	if c.ExtendTokenExpiration != nil {
		f = append(f, "--service-account-extend-token-expiration="+strconv.FormatBool(*c.ExtendTokenExpiration))
	}
	if c.EtcdCAFile != "" {
		f = append(f, "--etcd-cafile="+c.EtcdCAFile, "--etcd-certfile="+c.EtcdCertFile, "--etcd-keyfile="+c.EtcdKeyFile)
	}
	if c.EncryptionConfigFile != "" {
		f = append(f, "--encryption-provider-config="+c.EncryptionConfigFile)
	}
	if c.AuditLogPath != "" {
		f = append(f,
			"--audit-log-path="+c.AuditLogPath,
			"--audit-policy-file="+c.AuditPolicyFile,
			"--audit-log-maxsize=100", "--audit-log-maxbackup=1",
		)
	}
	return f
}

// AuditPolicy records who did what to which object for every request
// (Metadata), and the whole request and answer for bindings and pod status,
// the steps of a pod's way from creation to Running. Watches and long
// requests are recorded once, when they end or start.
const AuditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: RequestResponse
  resources:
  - group: ""
    resources: ["pods/binding", "pods/status"]
  verbs: ["create", "update", "patch"]
- level: Metadata
`

func seconds(d time.Duration) string { return strconv.Itoa(int(d / time.Second)) }
