package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/component-helpers/node/util/sysctl"
	kubeproxyconfigv1alpha1 "k8s.io/kube-proxy/config/v1alpha1"
	kubeproxyconfig "k8s.io/kubernetes/pkg/proxy/apis/config"
	kubeproxyconfigscheme "k8s.io/kubernetes/pkg/proxy/apis/config/scheme"
	upstreamiptables "k8s.io/kubernetes/pkg/proxy/iptables"
	proxyutil "k8s.io/kubernetes/pkg/proxy/util"
	utiliptables "k8s.io/kubernetes/pkg/util/iptables"

	"github.com/kinns/kinns/cni/netns"
)

// upstreamProxySync times upstream kube-proxy's iptables proxier (v1.37.2,
// its default configuration) doing one full sync of the same
// services×endpoints as proxyFullSync, each run in an empty scratch
// namespace of its own, and gives the median in seconds.
func upstreamProxySync(ctx context.Context, services, endpoints, runs int) (map[string]float64, error) {
	// syntheticServices' addresses: 200 Services a /24, 3 endpoints a /24 host.
	if services < 1 || services > 50000 || endpoints < 1 || endpoints > 750 || runs < 1 {
		return nil, fmt.Errorf("upstream proxy sync of %d Services × %d endpoints, %d runs: want 1-50000 Services, 1-750 endpoints and a run or more",
			services, endpoints, runs)
	}
	cfg, err := kubeProxyDefaults()
	if err != nil {
		return nil, err
	}
	svcs, slices := syntheticServices(services, endpoints)
	var took []float64
	for i := range runs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		d, err := upstreamFullSync(ctx, fmt.Sprintf("kinns-bench-%d-%d-up", os.Getpid(), i), cfg, svcs, slices)
		if err != nil {
			return nil, err
		}
		took = append(took, d.Seconds())
	}
	sort.Float64s(took)
	return map[string]float64{fmt.Sprintf("proxy_full_sync_upstream_%dx%d_seconds", services, endpoints): took[len(took)/2]}, nil
}

// kubeProxyDefaults is kube-proxy's configuration with nothing set, as
// kube-proxy itself makes it: the v1alpha1 defaults, converted.
func kubeProxyDefaults() (*kubeproxyconfig.KubeProxyConfiguration, error) {
	versioned := &kubeproxyconfigv1alpha1.KubeProxyConfiguration{}
	kubeproxyconfigscheme.Scheme.Default(versioned)
	internal, err := kubeproxyconfigscheme.Scheme.ConvertToVersion(versioned, kubeproxyconfig.SchemeGroupVersion)
	if err != nil {
		return nil, fmt.Errorf("default kube-proxy configuration: %w", err)
	}
	return internal.(*kubeproxyconfig.KubeProxyConfiguration), nil
}

// upstreamFullSync makes the namespace name, a proxier for node-1 in it, as
// proxyFullSync's, gives it the Services and slices, times its first sync,
// checks the rules it wrote and removes the namespace.
//
// What is timed: OnEndpointSlicesSynced, called after OnServiceSynced, runs
// syncProxyRules on the caller's goroutine (once per proxier, whatever its
// sync runner), and a new proxier needs a full sync. So the call is one full
// sync, the span its SyncFullProxyRulesLatency metric observes: the jump
// rules ensured one iptables command at a time, the tables read, the rules
// rendered, one iptables-restore. proxy.SyncOnce, timed by proxyFullSync,
// does the same work.
func upstreamFullSync(ctx context.Context, name string, cfg *kubeproxyconfig.KubeProxyConfiguration,
	svcs []*corev1.Service, slices []*discoveryv1.EndpointSlice) (time.Duration, error) {
	if err := netns.Create(name); err != nil {
		return 0, err
	}
	defer netns.Delete(name)
	path := netns.Path(name)
	ipt := nsIPTables{path: path, run: utiliptables.New(utiliptables.ProtocolIPv4)}
	// Made inside the namespace: the proxier opens its netfilter sockets
	// (nfacct counters, conntrack) when it is made.
	var p *upstreamiptables.Proxier
	err := netns.Do(path, func() (err error) {
		p, err = upstreamiptables.NewProxier(ctx, cfg, corev1.IPv4Protocol, ipt, nsSysctl{path: path, run: sysctl.New()},
			proxyutil.NewDetectLocalByCIDR("10.244.0.0/16"), "node-1", net.ParseIP("10.89.0.21"), &events.FakeRecorder{}, nil, false)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("upstream proxier in %s: %w", name, err)
	}
	for _, s := range svcs {
		p.OnServiceAdd(s)
	}
	for _, s := range slices {
		p.OnEndpointSliceAdd(s)
	}
	p.OnServiceSynced() // not yet initialized: no sync
	start := time.Now()
	if err := netns.Do(path, func() error { p.OnEndpointSlicesSynced(); return nil }); err != nil {
		return 0, err
	}
	took := time.Since(start)
	return took, checkUpstreamRules(ipt, len(svcs)*len(slices[0].Endpoints))
}

// checkUpstreamRules fails unless the nat table DNATs to want endpoints: the
// proxier only logs a failed sync, which must not pass for a fast one.
func checkUpstreamRules(ipt utiliptables.Interface, want int) error {
	var buf bytes.Buffer
	if err := ipt.SaveInto(utiliptables.TableNAT, &buf); err != nil {
		return err
	}
	if got := bytes.Count(buf.Bytes(), []byte("-j DNAT")); got != want {
		return fmt.Errorf("upstream proxier's sync left %d DNAT rules, want %d (its log is above)", got, want)
	}
	return nil
}
