package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Version is the Kubernetes version this kubelet speaks and reports.
const Version = "v1.37.2"

// Timing profiles, as `lab up --timing` names them.
const (
	ProfileFast       = "fast"
	ProfileKubernetes = "kubernetes"
)

// Config is one node's kubelet. It is JSON-serialisable except Log.
type Config struct {
	// Kubeconfig is the kubelet's identity (system:node:<NodeName>).
	Kubeconfig string
	// NodeName is the Node's name ("node-1"); NodeIP its fabric address,
	// reported as InternalIP and used as the pods' hostIP.
	NodeName, NodeIP string
	// PodCIDR is the node's pod range (10.244.N.0/24), set in the Node's
	// spec at registration and handed to the pod network.
	PodCIDR string
	// NodeNetns is the node's network namespace (name under /run/netns or
	// path), where this process runs; default ContainerdNamespace.
	NodeNetns string
	// Bridge is the node's pod bridge (default cni0).
	Bridge string
	// HostNetnsFD is an open descriptor, inherited from the harness, of the
	// host's network namespace: image pulls (registries, proxies, name
	// servers) connect through it, pods never do. 0: pulls connect from
	// NodeNetns, which has no way out.
	HostNetnsFD int
	// RegistryConfigDir holds containerd certs.d-style <host>/hosts.toml
	// files (mirrors, insecure registries) written by the harness; empty:
	// each registry's defaults.
	RegistryConfigDir string

	// ContainerdAddress is the shared daemon's socket; ContainerdNamespace
	// this node's namespace in it ("<lab>-<node>"), made by the harness.
	ContainerdAddress, ContainerdNamespace string
	// RuncRoot is runc's state folder; empty: runc's default.
	RuncRoot string
	// CgroupParent holds every pod's cgroup ("/kinns/<lab>/<node>"); pod
	// cgroups are <CgroupParent>/pod<uid>, containers' one level below.
	CgroupParent string
	// StateDir keeps the pod network's addresses, pod files (hosts,
	// resolv.conf), sandbox records and task pipes.
	StateDir string
	// LogDir holds container logs: <ns>_<pod>_<uid>/<container>/<restart>.log.
	LogDir string
	// PodNetnsPrefix names pod network namespaces "<prefix>-<hash of UID>";
	// default ContainerdNamespace, so they carry the lab's and node's name.
	PodNetnsPrefix string

	// Capacity is the node's own size: cpu, memory, pods (and optionally
	// ephemeral-storage); Reserved is held back from it for allocatable.
	Capacity, Reserved v1.ResourceList
	// Labels are added to the standard ones (hostname, os, arch); only
	// labels NodeRestriction lets a kubelet set are accepted by the API.
	Labels map[string]string
	// Taints are registered with the Node when the kubelet creates it.
	Taints []v1.Taint
	// ClusterDNS are the nameservers of ClusterFirst pods; ClusterDomain
	// their search suffix (default cluster.local).
	ClusterDNS    []string
	ClusterDomain string

	// AllowedUnsafeSysctls are the sysctls, or prefixes ending in "*",
	// that pods may set beyond the safe ones (the kubelet's
	// --allowed-unsafe-sysctls); a pod that asks for any other is refused
	// with SysctlForbidden. Each must be namespaced (kernel.shm*,
	// kernel.msg*, kernel.sem, fs.mqueue.*, net.*).
	AllowedUnsafeSysctls []string

	Timings
	// ImageGC is when unused images are removed.
	ImageGC ImageGC

	// ServerAddress is where the kubelet API serves (default ":10250");
	// no ServerCertFile means no server.
	ServerAddress                               string
	ServerCertFile, ServerKeyFile, ClientCAFile string

	Log *slog.Logger `json:"-"`
}

// Timings are the periods of a timing profile (see TimingsFor).
type Timings struct {
	// LeaseDuration is the node Lease's leaseDurationSeconds; it is renewed
	// every LeaseRenewInterval. StatusUpdateFrequency is how often the Node's
	// conditions are posted.
	LeaseDuration, LeaseRenewInterval, StatusUpdateFrequency time.Duration
	// SyncInterval is how often every pod is synced even with no event,
	// and orphans are looked for.
	SyncInterval time.Duration
	// Restart backoff of crashing containers (and image pull retries):
	// first restart at once, then BackoffInitial doubling up to BackoffMax;
	// a container that ran BackoffReset starts over.
	BackoffInitial, BackoffMax, BackoffReset time.Duration
	// TokenMaxAge is the age at which a projected service account token is
	// replaced even if it is far from expiry (upstream: 24h; it is also
	// replaced at 80 % of its lifetime). Default 24h; the harness's timing
	// profile sets it (harness.TimingProfile).
	TokenMaxAge time.Duration
	// ImageGCPeriod is how often disk usage is checked for image garbage
	// collection (upstream: 5m); ImageMinimumGCAge is the age under which
	// an unused image is kept (upstream's imageMinimumGCAge, 2m).
	ImageGCPeriod, ImageMinimumGCAge time.Duration
}

// TimingsFor returns a profile's periods. "kubernetes" is upstream's: lease
// 40s renewed every 10s, status every 10s, resync every minute, backoff 10s
// doubling to 5m, reset after 10m. "fast" (any other name too) keeps the
// same ratios where they matter, for labs that act in seconds on a busy
// 2-core host:
//   - lease 5s renewed every 1s (through a client with no rate limit):
//     five renewals must be lost in a row before the node controller's
//     5 s grace runs out, so a kubelet starved for a few seconds never
//     looks dead, yet a killed node is noticed within 5 s;
//   - node status every 4s: conditions are fresh within a heartbeat of the
//     node controller's grace period without doubling API writes;
//   - backoff 1s doubling to 30s, reset after 60s: a crash shows as a
//     restart within a second or two, and a crash loop still visibly slows;
//   - image GC checked every 10s, sparing images younger than 10s: a pod's
//     image is in use a moment after its pull, well within that.
func TimingsFor(profile string) Timings {
	if profile == ProfileKubernetes {
		return Timings{
			LeaseDuration: 40 * time.Second, LeaseRenewInterval: 10 * time.Second,
			StatusUpdateFrequency: 10 * time.Second, SyncInterval: time.Minute,
			BackoffInitial: 10 * time.Second, BackoffMax: 5 * time.Minute, BackoffReset: 10 * time.Minute,
			TokenMaxAge:   24 * time.Hour,
			ImageGCPeriod: DefaultImageGCPeriod, ImageMinimumGCAge: DefaultImageMinimumGCAge,
		}
	}
	return Timings{
		LeaseDuration: 5 * time.Second, LeaseRenewInterval: time.Second,
		StatusUpdateFrequency: 4 * time.Second, SyncInterval: 5 * time.Second,
		BackoffInitial: time.Second, BackoffMax: 30 * time.Second, BackoffReset: time.Minute,
		ImageGCPeriod: 10 * time.Second, ImageMinimumGCAge: 10 * time.Second,
	}
}

// Default fills what is left empty: timings from the kubernetes profile
// (BackoffReset: twice BackoffMax), NodeNetns and PodNetnsPrefix from
// ContainerdNamespace, cluster.local, :10250, a capacity of 2 CPUs, 4Gi and
// 110 pods, and a logger that discards.
func (c *Config) Default() {
	def := TimingsFor(ProfileKubernetes)
	t := &c.Timings
	for _, f := range []struct{ v, d *time.Duration }{
		{&t.LeaseDuration, &def.LeaseDuration}, {&t.LeaseRenewInterval, &def.LeaseRenewInterval},
		{&t.StatusUpdateFrequency, &def.StatusUpdateFrequency}, {&t.SyncInterval, &def.SyncInterval},
		{&t.BackoffInitial, &def.BackoffInitial}, {&t.BackoffMax, &def.BackoffMax},
		{&t.TokenMaxAge, &def.TokenMaxAge},
		{&t.ImageGCPeriod, &def.ImageGCPeriod}, {&t.ImageMinimumGCAge, &def.ImageMinimumGCAge},
	} {
		if *f.v == 0 {
			*f.v = *f.d
		}
	}
	if t.BackoffReset == 0 {
		t.BackoffReset = 2 * t.BackoffMax
	}
	if c.NodeNetns == "" {
		c.NodeNetns = c.ContainerdNamespace
	}
	if c.PodNetnsPrefix == "" {
		c.PodNetnsPrefix = c.ContainerdNamespace
	}
	if c.ClusterDomain == "" {
		c.ClusterDomain = "cluster.local"
	}
	if c.ServerAddress == "" {
		c.ServerAddress = ":10250"
	}
	if c.Capacity == nil {
		c.Capacity = v1.ResourceList{}
	}
	for name, q := range map[v1.ResourceName]string{v1.ResourceCPU: "2", v1.ResourceMemory: "4Gi", v1.ResourcePods: "110"} {
		if _, ok := c.Capacity[name]; !ok {
			c.Capacity[name] = resource.MustParse(q)
		}
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// Validate reports what a kubelet cannot run without: names, addresses and
// folders, a node IP and pod CIDR that parse, an absolute cgroup parent.
func (c Config) Validate() error {
	var missing []string
	for name, v := range map[string]string{
		"node name": c.NodeName, "node IP": c.NodeIP, "pod CIDR": c.PodCIDR,
		"containerd address": c.ContainerdAddress, "containerd namespace": c.ContainerdNamespace,
		"cgroup parent": c.CgroupParent, "state folder": c.StateDir, "log folder": c.LogDir,
	} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("kubelet config lacks %s", strings.Join(missing, ", "))
	}
	if _, err := netip.ParseAddr(c.NodeIP); err != nil {
		return fmt.Errorf("kubelet config: node IP: %w", err)
	}
	if _, err := netip.ParsePrefix(c.PodCIDR); err != nil {
		return fmt.Errorf("kubelet config: pod CIDR: %w", err)
	}
	if !strings.HasPrefix(c.CgroupParent, "/") || c.CgroupParent == "/" {
		return errors.New("kubelet config: cgroup parent must be an absolute path below /")
	}
	return c.ImageGC.Validate()
}

// Allocatable is Capacity minus Reserved, never below zero: what the node
// offers its pods, which the scheduler and the kubelet's resize admission
// both count against.
func (c Config) Allocatable() v1.ResourceList {
	return LessReserved(c.Capacity, c.Reserved)
}

// LessReserved is capacity minus reserved, each resource never below zero:
// the allocatable of a node with that capacity (the Node's status counts
// extended resources other writers put in its capacity too).
func LessReserved(capacity, reserved v1.ResourceList) v1.ResourceList {
	out := v1.ResourceList{}
	for name, q := range capacity {
		q = q.DeepCopy()
		if r, ok := reserved[name]; ok {
			q.Sub(r)
			if q.Sign() < 0 {
				q = *resource.NewQuantity(0, q.Format)
			}
		}
		out[name] = q
	}
	return out
}
