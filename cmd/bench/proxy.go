package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/kinns/kinns/cni/netns"
	"github.com/kinns/kinns/harness"
	"github.com/kinns/kinns/proxy"
	"github.com/kinns/kinns/proxy/rules"
)

// networkProgramming times an endpoint change until the rules of every
// node send to the new endpoint (polled from each node's iptables-save).
func networkProgramming(ctx context.Context, lab *harness.Lab, changes int) (Figures, error) {
	cs, err := clientset(lab)
	if err != nil {
		return nil, err
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "bench-np"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "p", Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	defer cs.CoreV1().Services("default").Delete(context.Background(), svc.Name, metav1.DeleteOptions{})
	var took []float64
	for i := range changes {
		d, err := oneEndpointChange(ctx, lab, cs, 10000+i)
		if err != nil {
			return nil, err
		}
		took = append(took, seconds(d))
	}
	return Figures{"network_programming_p50_seconds": percentile(took, 0.5), "network_programming_p99_seconds": percentile(took, 0.99)}, nil
}

// oneEndpointChange writes the selectorless Service's slice with an
// endpoint on port, and waits until every node DNATs to it.
func oneEndpointChange(ctx context.Context, lab *harness.Lab, cs kubernetes.Interface, port int) (time.Duration, error) {
	slice := benchSlice("bench-np", "bench-np", 1, int32(port))
	want := fmt.Sprintf("--to-destination %s:%d", slice.Endpoints[0].Addresses[0], port)
	start := time.Now()
	var err error
	if port == 10000 {
		_, err = cs.DiscoveryV1().EndpointSlices("default").Create(ctx, slice, metav1.CreateOptions{})
	} else {
		_, err = cs.DiscoveryV1().EndpointSlices("default").Update(ctx, slice, metav1.UpdateOptions{})
	}
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(lab.Plan().Nodes()))
	for _, n := range lab.Plan().Nodes() {
		wg.Go(func() {
			for {
				out, err := lab.Exec(ctx, n.Name, "iptables-save", "-t", "nat")
				if err == nil && strings.Contains(string(out), want) {
					return
				}
				select {
				case <-ctx.Done():
					errs <- fmt.Errorf("rules of %s never sent to port %d", n.Name, port)
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return time.Since(start), <-errs
}

// benchSlice is an EndpointSlice of service svc with n ready endpoints.
func benchSlice(name, svc string, n int, port int32) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: new("p"), Protocol: new(corev1.ProtocolTCP), Port: new(port)}},
	}
	for j := range n {
		node := fmt.Sprintf("node-%d", j%3+1)
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses: []string{fmt.Sprintf("10.244.%d.%d", j%3+1, j/3+2)}, NodeName: &node,
			Conditions: discoveryv1.EndpointConditions{Ready: new(true)},
		})
	}
	return s
}

var proxyNames = []string{"proxy_full_sync_1000x10_seconds", "iptables_restore_1000x10_seconds"}

// proxyFullSync times, in namespaces of its own, one full sync of the
// proxy for services×endpoints (read the tables, render, one restore)
// into an empty namespace, against a plain iptables-restore of the same
// text; the median of runs of each.
func proxyFullSync(ctx context.Context, services, endpoints, runs int) (Figures, error) {
	svcs, slices := syntheticServices(services, endpoints)
	cfg := proxy.Config{NodeName: "node-1", NodeIP: "10.89.0.21", ClusterCIDR: "10.244.0.0/16"}
	text := rules.Render(rules.Config{NodeName: "node-1"}, svcs, slices, rules.Existing{}).Text
	var plain, sync []float64
	for i := range runs {
		d, err := inScratchNetns(fmt.Sprintf("kinns-bench-%d-%d-a", os.Getpid(), i), func(ipt proxy.ExecIPTables) error {
			return ipt.Restore(ctx, text)
		})
		if err != nil {
			return nil, err
		}
		plain = append(plain, seconds(d[0]))
		d, err = inScratchNetns(fmt.Sprintf("kinns-bench-%d-%d-b", os.Getpid(), i), func(ipt proxy.ExecIPTables) error {
			_, err := proxy.SyncOnce(ctx, cfg, ipt, svcs, slices)
			return err
		})
		if err != nil {
			return nil, err
		}
		sync = append(sync, seconds(d[0]))
	}
	return Figures{"proxy_full_sync_1000x10_seconds": median(sync), "iptables_restore_1000x10_seconds": median(plain)}, nil
}

// inScratchNetns makes a network namespace of its own, times each step in
// it, and removes it.
func inScratchNetns(name string, steps ...func(proxy.ExecIPTables) error) ([]time.Duration, error) {
	if err := netns.Create(name); err != nil {
		return nil, err
	}
	defer netns.Delete(name)
	ipt := proxy.ExecIPTables{Start: func(c *exec.Cmd) error { return netns.Start(netns.Path(name), c) }}
	var took []time.Duration
	for _, step := range steps {
		t := time.Now()
		if err := step(ipt); err != nil {
			return nil, fmt.Errorf("in %s: %w", name, err)
		}
		took = append(took, time.Since(t))
	}
	return took, nil
}

// syntheticServices are n ClusterIP Services with m ready endpoints each.
func syntheticServices(n, m int) ([]*corev1.Service, []*discoveryv1.EndpointSlice) {
	var svcs []*corev1.Service
	var slices []*discoveryv1.EndpointSlice
	for i := range n {
		name := fmt.Sprintf("svc-%d", i)
		ip := fmt.Sprintf("10.96.%d.%d", i/200+1, i%200+1)
		svcs = append(svcs, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: ip, ClusterIPs: []string{ip},
				Ports: []corev1.ServicePort{{Name: "p", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(8080)}}},
		})
		slices = append(slices, benchSlice(name+"-x", name, m, 8080))
	}
	return svcs, slices
}
