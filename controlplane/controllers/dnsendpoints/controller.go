package dnsendpoints

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
)

// The Service and the slice this controller owns.
const (
	Namespace = "kube-system"
	Service   = "kube-dns"
	SliceName = "kube-dns-kinns"
	// Manager is the slice's endpointslice.kubernetes.io/managed-by, so
	// that the EndpointSlice controller leaves it alone.
	Manager = "dns-endpoints.kinns.io"
)

// Options tune a Controller.
type Options struct {
	// Servers are the DNS instances' addresses.
	Servers []string
	// ReadyPort serves GET /ready (CoreDNS's ready plugin; default 8181).
	ReadyPort int
	// Period between probes (default 1 s) and the time one may take
	// (default 500 ms).
	Period, Timeout time.Duration
	// Probe reports whether the instance at ip is ready; nil means an HTTP
	// GET of its readiness endpoint. Tests replace it.
	Probe func(ctx context.Context, ip string) bool
}

// Controller probes the instances and writes the slice.
type Controller struct {
	client kubernetes.Interface
	log    *slog.Logger
	opts   Options
	last   *discoveryv1.EndpointSlice // as last written or read
}

// New makes a controller; Run starts it. Only d.Client and d.Log are used:
// the one slice it owns is read once, then known from its own writes.
func New(d deps.Deps, opts Options) (*Controller, error) {
	d = d.Defaults()
	if opts.ReadyPort == 0 {
		opts.ReadyPort = 8181
	}
	if opts.Period <= 0 {
		opts.Period = time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 500 * time.Millisecond
	}
	c := &Controller{client: d.Client, log: d.Log, opts: opts}
	if c.opts.Probe == nil {
		c.opts.Probe = c.httpReady
	}
	return c, nil
}

// Run probes and syncs every period until ctx ends, four times as often
// while an instance is not ready (so one that comes up serves at once);
// workers is ignored (one loop is all there is).
func (c *Controller) Run(ctx context.Context, _ int) {
	if len(c.opts.Servers) == 0 {
		return
	}
	for {
		ready := c.probeAll(ctx)
		if err := c.sync(ctx, ready); err != nil && ctx.Err() == nil {
			c.log.Info("sync failed, will retry", "err", err)
		}
		next := c.opts.Period
		for _, ok := range ready {
			if !ok {
				next = c.opts.Period / 4
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(next):
		}
	}
}

// probeAll probes every instance at once.
func (c *Controller) probeAll(ctx context.Context) map[string]bool {
	var mu sync.Mutex
	var wg sync.WaitGroup
	ready := map[string]bool{}
	for _, ip := range c.opts.Servers {
		wg.Go(func() {
			ok := c.opts.Probe(ctx, ip)
			mu.Lock()
			ready[ip] = ok
			mu.Unlock()
		})
	}
	wg.Wait()
	return ready
}

func (c *Controller) httpReady(ctx context.Context, ip string) bool {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	url := "http://" + net.JoinHostPort(ip, strconv.Itoa(c.opts.ReadyPort)) + "/ready"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// sync writes the slice for these probe results, if it differs.
func (c *Controller) sync(ctx context.Context, ready map[string]bool) error {
	want := Desired(c.opts.Servers, ready)
	if c.last == nil {
		got, err := c.client.DiscoveryV1().EndpointSlices(Namespace).Get(ctx, SliceName, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			got, err = c.client.DiscoveryV1().EndpointSlices(Namespace).Create(ctx, want, metav1.CreateOptions{})
			if err != nil {
				return fmt.Errorf("create %s/%s: %w", Namespace, SliceName, err)
			}
			c.last = got
			return nil
		case err != nil:
			return fmt.Errorf("get %s/%s: %w", Namespace, SliceName, err)
		}
		c.last = got
	}
	if reflect.DeepEqual(c.last.Endpoints, want.Endpoints) && reflect.DeepEqual(c.last.Ports, want.Ports) {
		return nil
	}
	upd := c.last.DeepCopy()
	upd.Labels, upd.Endpoints, upd.Ports = want.Labels, want.Endpoints, want.Ports
	got, err := c.client.DiscoveryV1().EndpointSlices(Namespace).Update(ctx, upd, metav1.UpdateOptions{})
	if err != nil {
		c.last = nil // read it again
		return fmt.Errorf("update %s/%s: %w", Namespace, SliceName, err)
	}
	c.log.Info("DNS endpoints", "ready", readyList(want))
	c.last = got
	return nil
}

// Desired is the slice for the given instances and their readiness, in the
// order of servers.
func Desired(servers []string, ready map[string]bool) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: SliceName, Namespace: Namespace, Labels: map[string]string{
			discoveryv1.LabelServiceName: Service, discoveryv1.LabelManagedBy: Manager,
		}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{
			port("dns", corev1.ProtocolUDP, 53), port("dns-tcp", corev1.ProtocolTCP, 53), port("metrics", corev1.ProtocolTCP, 9153),
		},
	}
	for _, ip := range servers {
		ok := ready[ip]
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{ip},
			Conditions: discoveryv1.EndpointConditions{Ready: &ok, Serving: &ok, Terminating: new(false)},
		})
	}
	return s
}

func port(name string, proto corev1.Protocol, n int32) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: &name, Protocol: &proto, Port: &n}
}

func readyList(s *discoveryv1.EndpointSlice) []string {
	var out []string
	for _, e := range s.Endpoints {
		if e.Conditions.Ready != nil && *e.Conditions.Ready {
			out = append(out, e.Addresses...)
		}
	}
	return out
}
