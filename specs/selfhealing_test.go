package specs

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kinns/kinns/controlplane/pki"
	"github.com/kinns/kinns/harness"
)

var SelfHealing = Label("self-healing")

// breakLab injects a fault written as `lab fault` takes it, and mends it at
// the end of the spec if the spec did not.
func breakLab(ctx context.Context, lab *harness.Lab, fault string) {
	GinkgoHelper()
	w := strings.Fields(fault)
	Expect(lab.Break(ctx, harness.Fault{Target: w[0], Action: w[1], Args: w[2:]}, DeferCleanup)).To(Succeed())
}

// mend carries out a mend written as `lab fault` takes it.
func mend(ctx context.Context, lab *harness.Lab, fault string) {
	GinkgoHelper()
	w := strings.Fields(fault)
	Expect(lab.Inject(ctx, harness.Fault{Target: w[0], Action: w[1], Args: w[2:]})).To(Succeed())
}

// onNode names the pods of app on node.
func onNode(ctx context.Context, cs kubernetes.Interface, app, node string) []string {
	_, pods := podsOf(ctx, cs, app)
	var out []string
	for _, p := range pods {
		if p.Spec.NodeName == node {
			out = append(out, p.Name)
		}
	}
	return out
}

var _ = Describe("Self-healing", SelfHealing, Ordered, func() {
	const app, replicas = "web", 6
	var (
		lab     *harness.Lab
		cs      kubernetes.Interface
		svc     *corev1.Service
		clients map[string]string
	)
	BeforeAll(func(ctx SpecContext) {
		lab = bootLab(ctx, 3)
		cs = clientAs(lab, pki.Admin)
		svc = web(ctx, cs, app, replicas, corev1.ServiceTypeNodePort)
		clients = clientPods(ctx, cs, lab)
	}, NodeTimeout(3*time.Minute))

	It("[claim 17] brings back a killed container, a deleted pod and a flushed chain, and no node flaps for a minute", func(ctx SpecContext) {
		steady := watchNodes(ctx, cs)
		start := time.Now()
		_, pods := podsOf(ctx, cs, app)
		victim := pods[0]

		By("a container killed behind the kubelet's back restarts")
		_, err := execIn(ctx, lab, cs, victim.Name, "/testapp", "get", "--timeout", "1s", "http://127.0.0.1:8080/exit?code=3")
		_ = err // the process exits under the request
		waitFor(ctx, cs, victim.Name, time.Minute, func(g Gomega, p *corev1.Pod) {
			g.Expect(p.Status.ContainerStatuses).NotTo(BeEmpty())
			g.Expect(p.Status.ContainerStatuses[0].RestartCount).To(BeNumerically(">=", 1))
			beReady(g, p)
		})

		By("a deleted pod is replaced")
		Expect(cs.CoreV1().Pods("default").Delete(ctx, pods[1].Name, metav1.DeleteOptions{})).To(Succeed())
		waitEndpoints(ctx, cs, app, replicas)

		By("a flushed proxy chain is put back")
		Expect(lab.Exec(ctx, "node-1", "iptables", "-t", "nat", "-F", "KINNS-SERVICES")).Error().NotTo(HaveOccurred())
		Eventually(func() []string { return getFromHost(ctx, lab, "node-1", svcURL(svc, "/hostname"), 1, "1s") }).
			WithContext(ctx).WithTimeout(time.Minute).WithPolling(500 * time.Millisecond).
			Should(HaveExactElements(Not(HavePrefix("error"))))
		expectFullReachability(ctx, lab, cs, svc, clients)

		By("no node left Ready for a minute")
		time.Sleep(time.Until(start.Add(time.Minute)))
		Expect(steady()).To(BeEmpty(), "Ready transitions of a steady lab")
	}, SpecTimeout(4*time.Minute))

	DescribeTable("[claim 15] replaces the pods of a broken node and routes around it",
		func(ctx SpecContext, node, fault, heal string) {
			_, pods := podsOf(ctx, cs, app)
			Expect(onNode(ctx, cs, app, node)).NotTo(BeEmpty(), "the Deployment has no pod on %s to lose", node)
			Expect(pods).To(HaveLen(replicas))
			loop := startTraffic(lab, "node-1", svcURL(svc, "/hostname"), 50*time.Millisecond)
			tl := newTimeline(ctx, cs, node, app, replicas)

			breakLab(ctx, lab, fault)
			tl.wait(ctx, lab, cs)
			// Three seconds of grace after the poll saw every node's rules
			// forget the lost pods; from then on no request fails. Each
			// failure says its source port and what node-1's conntrack held
			// for it: a connection that reused the source port of an
			// attempt left unanswered by a lost pod used to follow that
			// entry's DNAT to the dead pod (the proxy now clears those).
			settled := tl.at("rules updated on every node").Add(3 * time.Second)
			ct, _ := lab.Exec(ctx, "node-1", "cat", "/proc/net/nf_conntrack")
			Expect(sentToLost(string(ct), svc.Spec.ClusterIP, tl.deadIPs, settled, time.Now())).To(BeEmpty(),
				"connections node-1 sent to %s's lost pods after every node's rules had forgotten them", node)
			if late := loop.failures(settled); len(late) > 0 {
				stats, _ := lab.Exec(ctx, "node-1", "sh", "-c", "cat /proc/net/stat/nf_conntrack /proc/net/snmp; ip route; ip neigh")
				AddReportEntry("failed requests after the rules' update", fmt.Sprintf("%d of %d:\n%s\nnode-1's counters, routes and neighbours:\n%s\nnode-1's connections to the Service that were not DNATed:\n%s",
					len(late), len(loop.since(settled)), strings.Join(late, "\n"), stats, strings.Join(notNATed(string(ct), svc.Spec.ClusterIP), "\n")))
				Fail(fmt.Sprintf("%d of the %d requests after the rules' update failed:\n%s", len(late), len(loop.since(settled)), strings.Join(late, "\n")))
			}
			fmt.Fprintf(GinkgoWriter, "traffic: %s; failures: %v\n", loop.summary(), loop.failures(time.Time{}))

			By("once mended, the node's stale pods go and the replica count converges")
			mend(ctx, lab, heal)
			Eventually(func(g Gomega) {
				g.Expect(onNode(ctx, cs, app, node)).To(BeEmpty())
				all, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(all.Items).To(HaveLen(replicas), "pods of %s, terminating ones included", app)
				n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(nodeReady(n)).To(BeTrue(), "%s Ready again", node)
			}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(500 * time.Millisecond).Should(Succeed())
			waitEndpoints(ctx, cs, app, replicas)
			clients = clientPods(ctx, cs, lab) // the node's own went with it
			Eventually(func() map[reach]string { return reachability(ctx, lab, cs, svc, clients) }).
				WithContext(ctx).WithTimeout(time.Minute).WithPolling(2 * time.Second).Should(BeEmpty())
			Expect(loop.failures(time.Now())).To(BeEmpty())
		},
		Entry("a killed node", "node-3", "node kill node-3", "node start node-3", SpecTimeout(5*time.Minute)),
		Entry("a frozen node", "node-2", "node freeze node-2", "node thaw node-2", SpecTimeout(5*time.Minute)),
		Entry("a node cut off from the control plane", "node-3", "partition node-3 --from control-plane", "partition heal node-3", SpecTimeout(5*time.Minute)),
	)
})

// watchNodes notes every change of a node's Ready condition from now on,
// and returns a function that lists them.
func watchNodes(ctx context.Context, cs kubernetes.Interface) func() []string {
	GinkgoHelper()
	w, err := cs.CoreV1().Nodes().Watch(ctx, metav1.ListOptions{})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(w.Stop)
	ready := map[string]bool{}
	var changes []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			n, ok := ev.Object.(*corev1.Node)
			if !ok {
				continue
			}
			was, seen := ready[n.Name]
			if now := nodeReady(n); seen && now != was {
				changes = append(changes, fmt.Sprintf("%s %s Ready=%v", time.Now().Format("15:04:05.000"), n.Name, now))
			}
			ready[n.Name] = nodeReady(n)
		}
	}()
	return func() []string {
		w.Stop()
		<-done
		return changes
	}
}

// sentToLost lists the connections to clusterIP in node-1's conntrack
// table (text) that went to one of the lost pods and were made after
// since. An unanswered connection's entry counts down 120 s from its SYN
// (a retransmitted SYN restarts it, hence a second of margin).
func sentToLost(text, clusterIP string, lost []string, since, now time.Time) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		f := strings.Fields(l)
		if len(f) < 6 || f[5] != "SYN_SENT" || !strings.Contains(l, " dst="+clusterIP+" ") {
			continue
		}
		left, err := strconv.Atoi(f[4])
		if err != nil {
			continue
		}
		made := now.Add(-time.Duration(120-left) * time.Second)
		if made.Before(since.Add(time.Second)) {
			continue
		}
		for _, ip := range lost {
			if strings.Contains(l, "[UNREPLIED] src="+ip+" ") {
				out = append(out, strings.Join(f[2:], " "))
			}
		}
	}
	return out
}

// notNATed lists the conntrack entries to clusterIP whose reply comes from
// clusterIP itself: packets that no rule sent to an endpoint.
func notNATed(text, clusterIP string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if f := strings.Fields(l); len(f) > 2 && strings.Contains(l, " dst="+clusterIP+" ") && strings.Contains(l, " src="+clusterIP+" ") {
			out = append(out, strings.Join(f[2:], " "))
		}
	}
	return out
}
