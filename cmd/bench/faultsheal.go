package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kinns/kinns/harness"
)

// healReplicas is the Deployment a node kill breaks: spread over three
// nodes, two replicas or so go with the node.
const healReplicas = 6

// selfHeal kills the node that runs most of a fresh Deployment's pods (the
// harness's `node kill`: cable pulled, kubelet, proxy and containers
// SIGKILLed) and measures until the Deployment has every replica Ready on
// the live nodes again: self_heal_seconds. The phases on the way are
// logged, to show where the time goes.
func selfHeal(ctx context.Context, f *faultLab) (map[string]float64, error) {
	name := f.next("heal")
	if err := f.deploy(ctx, name, healReplicas); err != nil {
		return nil, err
	}
	victim, err := f.busiestNode(ctx, name)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := f.inject(ctx, "node kill "+victim); err != nil {
		return nil, err
	}
	tl := &timeline{start: start}
	err = poll(ctx, "every replica of "+name+" Ready on the live nodes", 2*time.Minute, func(ctx context.Context) (bool, error) {
		return f.healed(ctx, tl, name, victim), nil
	})
	f.log.Info("self-healing", "node", victim, "timeline", tl.String())
	if err != nil {
		return nil, err
	}
	if err := f.mendNode(ctx, victim); err != nil {
		return nil, err
	}
	f.remove(ctx, name)
	return map[string]float64{"self_heal_seconds": tl.when("every replica Ready"), "self_heal_policy_seconds": selfHealPolicy(harness.TimingFast)}, nil
}

// selfHealPolicy is how long a profile makes a dead node's pods wait before
// they are evicted, at best: the node monitor's grace period after the
// last heartbeat, which comes at most one lease renewal before the death,
// then the pods' tolerationSeconds for the unreachable taint. The fast
// profile's 5 s grace is five renewals lost in a row, so that a kubelet
// starved for seconds on a busy 2-core host is never taken for dead; its
// tolerations are 2 s.
func selfHealPolicy(profile string) float64 {
	p := harness.TimingProfile(profile)
	return (p.NodeGrace - p.LeaseRenew + p.UnreachableToleration).Seconds()
}

// deploy creates a Deployment of the test image, ready once it answers
// HTTP (as the specs' web), and waits until every replica is Ready.
func (f *faultLab) deploy(ctx context.Context, name string, replicas int32) error {
	if _, err := f.cs.AppsV1().Deployments("default").Create(ctx, benchDeployment(name, replicas), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create deployment %s: %w", name, err)
	}
	return poll(ctx, fmt.Sprintf("%d replicas of %s Ready", replicas, name), 2*time.Minute, func(ctx context.Context) (bool, error) {
		pods, err := f.pods(ctx, name)
		ready := 0
		for i := range pods {
			if pods[i].DeletionTimestamp == nil && isPodReady(&pods[i]) {
				ready++
			}
		}
		return err == nil && ready == int(replicas), nil
	})
}

func benchDeployment(name string, replicas int32) *appsv1.Deployment {
	grace := int64(2)
	labels := map[string]string{"app": name}
	probe := &corev1.Probe{PeriodSeconds: 1, FailureThreshold: 1,
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(8080)}}}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &grace, Containers: []corev1.Container{
					{Name: "app", Image: testImage, ReadinessProbe: probe},
				}},
			},
		},
	}
}

// pods lists the pods of the Deployment name, terminating ones included.
func (f *faultLab) pods(ctx context.Context, name string) ([]corev1.Pod, error) {
	list, err := f.cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		return nil, fmt.Errorf("list pods of %s: %w", name, err)
	}
	return list.Items, nil
}

// busiestNode is the node with most of name's pods (the last such by name).
func (f *faultLab) busiestNode(ctx context.Context, name string) (string, error) {
	pods, err := f.pods(ctx, name)
	if err != nil {
		return "", err
	}
	byNode := map[string]int{}
	for _, p := range pods {
		byNode[p.Spec.NodeName]++
	}
	f.log.Info("pods by node", "deployment", name, "pods", byNode)
	best := ""
	for _, n := range slices.Sorted(maps.Keys(byNode)) {
		if best == "" || byNode[n] >= byNode[best] {
			best = n
		}
	}
	if best == "" {
		return "", fmt.Errorf("deployment %s has no pods", name)
	}
	return best, nil
}

// healed notes the phases of self-healing seen now, and reports whether
// the last one, every replica Ready on the live nodes, was reached.
func (f *faultLab) healed(ctx context.Context, tl *timeline, name, node string) bool {
	if lease, err := f.cs.CoordinationV1().Leases("kube-node-lease").Get(ctx, node, metav1.GetOptions{}); err == nil &&
		lease.Spec.RenewTime != nil && lease.Spec.LeaseDurationSeconds != nil {
		expiry := lease.Spec.RenewTime.Add(time.Duration(*lease.Spec.LeaseDurationSeconds) * time.Second)
		tl.mark("lease expired", time.Now().After(expiry))
	}
	if n, err := f.cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{}); err == nil {
		tl.mark("NotReady", !nodeIsReady(n))
		tl.mark("tainted NoExecute", hasNoExecute(n))
	}
	pods, err := f.pods(ctx, name)
	if err != nil {
		return false
	}
	evicted, bound, ready := countHealing(pods, node)
	tl.mark("evicted", evicted)
	tl.mark("replacements bound", evicted && bound >= healReplicas)
	return tl.mark("every replica Ready", evicted && ready >= healReplicas)
}

// countHealing says whether a pod of the lost node is going, and counts the
// live pods elsewhere that are bound and that are Ready.
func countHealing(pods []corev1.Pod, lost string) (evicted bool, bound, ready int) {
	for i := range pods {
		p := &pods[i]
		switch {
		case p.Spec.NodeName == lost:
			evicted = evicted || p.DeletionTimestamp != nil
		case p.DeletionTimestamp != nil || p.Spec.NodeName == "":
		default:
			bound++
			if isPodReady(p) {
				ready++
			}
		}
	}
	return evicted, bound, ready
}

func nodeIsReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func hasNoExecute(n *corev1.Node) bool {
	return slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool { return t.Effect == corev1.TaintEffectNoExecute })
}

// mendNode powers the node back on and waits until it is Ready and
// untainted, so that the next run has three nodes again.
func (f *faultLab) mendNode(ctx context.Context, node string) error {
	if err := f.inject(ctx, "node start "+node); err != nil {
		return err
	}
	return poll(ctx, node+" Ready and untainted", time.Minute, func(ctx context.Context) (bool, error) {
		n, err := f.cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		return err == nil && nodeIsReady(n) && len(n.Spec.Taints) == 0, nil
	})
}

// remove deletes a Deployment; its pods go in the background.
func (f *faultLab) remove(ctx context.Context, name string) {
	if err := f.cs.AppsV1().Deployments("default").Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		f.log.Warn("delete deployment", "name", name, "err", err)
	}
}

// timeline is when each phase was first seen after start.
type timeline struct {
	start  time.Time
	phases []string
	at     []float64
}

// mark notes phase now if ok and not seen before; it reports whether
// phase was seen.
func (t *timeline) mark(phase string, ok bool) bool {
	if slices.Contains(t.phases, phase) {
		return true
	}
	if ok {
		t.phases = append(t.phases, phase)
		t.at = append(t.at, secondsSince(t.start, time.Now()))
	}
	return ok
}

// when is when phase was seen, in seconds after start (0 if it was not).
func (t *timeline) when(phase string) float64 {
	if i := slices.Index(t.phases, phase); i >= 0 {
		return t.at[i]
	}
	return 0
}

func (t *timeline) String() string {
	var b strings.Builder
	for i, p := range t.phases {
		fmt.Fprintf(&b, "%s +%.1fs; ", p, t.at[i])
	}
	return strings.TrimSuffix(b.String(), "; ")
}
