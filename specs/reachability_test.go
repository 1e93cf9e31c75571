package specs

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kinns/kinns/harness"
)

// reach is one cell of a reachability matrix: a source (a node, or a client
// pod "pod/<name>") and a target URL.
type reach struct{ from, to string }

// reachability asks every target of Service svc (its ClusterIP, its
// NodePort on every node, every ready pod's address) from every node and
// every client pod, and returns the cells that did not answer.
func reachability(ctx context.Context, lab *harness.Lab, cs kubernetes.Interface, svc *corev1.Service, clients map[string]string) map[reach]string {
	var targets []string
	targets = append(targets, svcURL(svc, "/hostname"))
	for _, n := range lab.Plan().Nodes() {
		if svc.Spec.Type == corev1.ServiceTypeNodePort {
			targets = append(targets, nodePortURL(n.IP.String(), svc, "/hostname"))
		}
	}
	for _, ip := range readyEndpoints(ctx, cs, svc.Name) {
		targets = append(targets, "http://"+ip+":8080/hostname")
	}
	var mu sync.Mutex
	failed := map[reach]string{}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 6)
	ask := func(r reach, do func() []string) {
		defer wg.Done()
		sem <- struct{}{}
		defer func() { <-sem }()
		if got := do(); len(got) != 1 || strings.HasPrefix(got[0], "error") {
			mu.Lock()
			failed[r] = strings.Join(got, " ")
			mu.Unlock()
		}
	}
	for _, n := range lab.Plan().Nodes() {
		for _, url := range targets {
			wg.Add(2)
			go ask(reach{n.Name, url}, func() []string { return getFromHost(ctx, lab, n.Name, url, 1, "2s") })
			go ask(reach{"pod/" + clients[n.Name], url}, func() []string { return getAll(ctx, lab, cs, clients[n.Name], url, 1) })
		}
	}
	wg.Wait()
	return failed
}

// expectFullReachability checks that every source reaches every target;
// when some do not, each node's rules and routes go to the report.
func expectFullReachability(ctx context.Context, lab *harness.Lab, cs kubernetes.Interface, svc *corev1.Service, clients map[string]string) {
	GinkgoHelper()
	failed := reachability(ctx, lab, cs, svc, clients)
	if len(failed) == 0 {
		return
	}
	var cells []string
	for r, why := range failed {
		cells = append(cells, fmt.Sprintf("%s -> %s: %s", r.from, r.to, why))
	}
	sort.Strings(cells)
	for _, n := range lab.Plan().Nodes() {
		rules, _ := lab.Exec(ctx, n.Name, "iptables-save", "-t", "nat")
		routes, _ := lab.Exec(ctx, n.Name, "ip", "route")
		AddReportEntry("rules and routes of "+n.Name, string(rules)+"\n"+string(routes))
	}
	Expect(cells).To(BeEmpty(), "reachability matrix: these did not answer")
}
