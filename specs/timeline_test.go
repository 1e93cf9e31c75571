package specs

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kinns/kinns/harness"
)

// The phases of self-healing after a node fault, in the order they happen.
var healingPhases = []string{
	"lease missed", "NotReady", "tainted", "endpoints removed", "rules updated on every node",
	"evicted", "replacements bound", "replacements Running", "every replica Ready",
}

// timeline records when each phase of self-healing was first seen after a
// fault on node, for the Deployment and Service app (replicas wanted).
type timeline struct {
	node, app string
	replicas  int
	start     time.Time
	seen      map[string]time.Duration
	deadIPs   []string // the node's pods' addresses when the fault came
}

// newTimeline starts a timeline now, just before a fault on node: it notes
// the addresses of the node's pods, which the rules must forget.
func newTimeline(ctx context.Context, cs kubernetes.Interface, node, app string, replicas int) *timeline {
	t := &timeline{node: node, app: app, replicas: replicas, start: time.Now(), seen: map[string]time.Duration{}}
	_, pods := podsOf(ctx, cs, app)
	for _, p := range pods {
		if p.Spec.NodeName == node && p.Status.PodIP != "" {
			t.deadIPs = append(t.deadIPs, p.Status.PodIP)
		}
	}
	return t
}

// wait polls the cluster every 100 ms until every phase was seen or ctx
// ends, then prints the timeline and attaches it to the spec's report.
func (t *timeline) wait(ctx context.Context, lab *harness.Lab, cs kubernetes.Interface) {
	GinkgoHelper()
	for len(t.seen) < len(healingPhases) && ctx.Err() == nil {
		t.poll(ctx, lab, cs)
		time.Sleep(100 * time.Millisecond)
	}
	AddReportEntry("self-healing timeline of "+t.node, t.String())
	if missing := t.missing(); len(missing) > 0 {
		Fail(fmt.Sprintf("self-healing after the fault on %s never got to: %v\n%s", t.node, missing, t))
	}
}

func (t *timeline) missing() []string {
	var out []string
	for _, p := range healingPhases {
		if _, ok := t.seen[p]; !ok {
			out = append(out, p)
		}
	}
	return out
}

func (t *timeline) mark(phase string, ok bool) {
	if _, done := t.seen[phase]; ok && !done {
		t.seen[phase] = time.Since(t.start)
	}
}

// at is when a phase was seen (the zero time if it was not).
func (t *timeline) at(phase string) time.Time {
	d, ok := t.seen[phase]
	if !ok {
		return time.Time{}
	}
	return t.start.Add(d)
}

func (t *timeline) poll(ctx context.Context, lab *harness.Lab, cs kubernetes.Interface) {
	if lease, err := cs.CoordinationV1().Leases("kube-node-lease").Get(ctx, t.node, metav1.GetOptions{}); err == nil &&
		lease.Spec.RenewTime != nil && lease.Spec.LeaseDurationSeconds != nil {
		expiry := lease.Spec.RenewTime.Add(time.Duration(*lease.Spec.LeaseDurationSeconds) * time.Second)
		t.mark("lease missed", time.Now().After(expiry))
	}
	if n, err := cs.CoreV1().Nodes().Get(ctx, t.node, metav1.GetOptions{}); err == nil {
		t.mark("NotReady", !nodeReady(n))
		t.mark("tainted", hasTaint(n, corev1.TaintNodeUnreachable) || hasTaint(n, corev1.TaintNodeNotReady))
	}
	t.mark("endpoints removed", t.seen["NotReady"] > 0 && !t.endpointsOnNode(ctx, cs))
	if _, ok := t.seen["endpoints removed"]; ok {
		t.mark("rules updated on every node", t.rulesForget(ctx, lab))
	}
	all, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + t.app})
	if err != nil {
		return
	}
	evicted, bound, running, ready := false, 0, 0, 0
	for _, p := range all.Items {
		if p.Spec.NodeName == t.node {
			evicted = evicted || p.DeletionTimestamp != nil
			continue
		}
		if p.DeletionTimestamp != nil || p.Spec.NodeName == "" {
			continue
		}
		bound++
		if p.Status.Phase == corev1.PodRunning {
			running++
		}
		if podReady(&p) {
			ready++
		}
	}
	t.mark("evicted", evicted)
	t.mark("replacements bound", evicted && bound >= t.replicas)
	t.mark("replacements Running", evicted && running >= t.replicas)
	t.mark("every replica Ready", evicted && ready >= t.replicas && len(readyEndpoints(ctx, cs, t.app)) >= t.replicas)
}

// endpointsOnNode reports whether the Service still has a ready endpoint on
// the node.
func (t *timeline) endpointsOnNode(ctx context.Context, cs kubernetes.Interface) bool {
	slices, err := cs.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + t.app})
	if err != nil {
		return true
	}
	for _, s := range slices.Items {
		for _, e := range s.Endpoints {
			if e.NodeName != nil && *e.NodeName == t.node && (e.Conditions.Ready == nil || *e.Conditions.Ready) {
				return true
			}
		}
	}
	return false
}

// rulesForget reports whether no other node's rules name a pod of the node.
func (t *timeline) rulesForget(ctx context.Context, lab *harness.Lab) bool {
	for _, n := range lab.Plan().Nodes() {
		if n.Name == t.node {
			continue
		}
		out, err := lab.Exec(ctx, n.Name, "iptables-save", "-t", "nat")
		if err != nil {
			return false
		}
		for _, ip := range t.deadIPs {
			if strings.Contains(string(out), " "+ip+":") || strings.Contains(string(out), ip+"/32") {
				return false
			}
		}
	}
	return true
}

func (t *timeline) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "self-healing after the fault on %s at %s:\n", t.node, t.start.Format("15:04:05.000"))
	for _, p := range healingPhases {
		if d, ok := t.seen[p]; ok {
			fmt.Fprintf(&b, "  %+8.1fs  %s\n", d.Seconds(), p)
		} else {
			fmt.Fprintf(&b, "  %9s  %s\n", "never", p)
		}
	}
	return b.String()
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func hasTaint(n *corev1.Node, key string) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key {
			return true
		}
	}
	return false
}
