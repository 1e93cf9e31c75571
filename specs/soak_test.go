package specs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"

	"github.com/kinns/kinns/controlplane/pki"
	"github.com/kinns/kinns/harness"
)

// Soak is not part of make e2e: make soak runs it.
var Soak = Label("soak")

const (
	soakReplicas = 6
	// stallAfter is how long past its trigger a rollout may take before the
	// cycle counts as stalled.
	stallAfter = 60 * time.Second
)

// soakCycles is KINNS_SOAK_CYCLES, 1,000 by default.
func soakCycles() int {
	n, err := strconv.Atoi(os.Getenv("KINNS_SOAK_CYCLES"))
	if err != nil || n <= 0 {
		return 1000
	}
	return n
}

// Serial: it keeps every CPU of the host busy.
var _ = Describe("A soak under load", Soak, Serial, func() {
	cycles := soakCycles()
	It(fmt.Sprintf("creates, heals and deletes a %d-replica Deployment %d times while every CPU is busy", soakReplicas, cycles), func(ctx SpecContext) {
		lab := bootLabNamed(ctx, "soak", 3)
		cs := clientAs(lab, pki.Admin)
		busy := keepCPUsBusy(ctx, lab)
		// One name for every cycle, as a user's loop has: each cycle's
		// Deployment, ReplicaSet and pod names are those of the last one.
		DeferCleanup(func(ctx SpecContext) {
			cs.AppsV1().Deployments("default").Delete(ctx, "soak", metav1.DeleteOptions{})
		})
		start := time.Now()
		for i := range cycles {
			soakCycle(ctx, lab, cs, "soak")
			if (i+1)%25 == 0 {
				GinkgoWriter.Printf("%d cycles in %s\n", i+1, time.Since(start).Round(time.Second))
			}
		}
		perMinute := float64(cycles) / time.Since(start).Minutes()
		AddReportEntry("soak", fmt.Sprintf("%d cycles in %s under %d busy processes: %.1f cycles/minute",
			cycles, time.Since(start).Round(time.Second), busy, perMinute))
	}, SpecTimeout(5*time.Minute+time.Duration(cycles)*time.Minute))
})

// keepCPUsBusy starts one busy loop per CPU, spread over the lab's nodes, for
// the rest of the spec, and returns how many it started.
func keepCPUsBusy(ctx context.Context, lab *harness.Lab) int {
	GinkgoHelper()
	nodes := lab.Plan().Nodes()
	n := runtime.NumCPU()
	for i := range n {
		cmd, err := lab.Command(ctx, nodes[i%len(nodes)].Name, "sh", "-c", "while :; do :; done")
		Expect(err).NotTo(HaveOccurred())
		Expect(lab.Start(ctx, nodes[i%len(nodes)].Name, cmd)).To(Succeed())
		DeferCleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
	}
	return n
}

// soakCycle creates a Deployment, deletes one of its pods, deletes it, and
// waits for the cluster to settle after each step.
func soakCycle(ctx context.Context, lab *harness.Lab, cs kubernetes.Interface, name string) {
	GinkgoHelper()
	deps := cs.AppsV1().Deployments("default")
	_, err := deps.Create(ctx, deployment(name, soakReplicas), metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	waitRolledOut(ctx, lab, cs, name, "", "rollout of a new Deployment")

	_, pods := podsOf(ctx, cs, name)
	victim := pods[rand.IntN(len(pods))].Name
	Expect(cs.CoreV1().Pods("default").Delete(ctx, victim, metav1.DeleteOptions{})).To(Succeed())
	waitRolledOut(ctx, lab, cs, name, victim, "replacement of deleted pod "+victim)

	Expect(deps.Delete(ctx, name, metav1.DeleteOptions{})).To(Succeed())
	waitStalls(ctx, lab, cs, name, "pods of the deleted Deployment gone", func(g Gomega) {
		list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(list.Items).To(BeEmpty())
	})
}

// waitRolledOut waits until the Deployment's rollout is complete, as kubectl
// rollout status means it, with every replica a ready pod other than gone.
func waitRolledOut(ctx context.Context, lab *harness.Lab, cs kubernetes.Interface, name, gone, what string) {
	GinkgoHelper()
	waitStalls(ctx, lab, cs, name, what, func(g Gomega) {
		d, err := cs.AppsV1().Deployments("default").Get(ctx, name, metav1.GetOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(rolledOut(d)).To(BeTrue(), "rollout not complete: %+v", d.Status)
		list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(list.Items).To(HaveLen(soakReplicas), "the pods, terminating ones included")
		g.Expect(readyCount(list.Items)).To(Equal(soakReplicas))
		g.Expect(slices.ContainsFunc(list.Items, func(p corev1.Pod) bool { return p.Name == gone })).To(BeFalse(), "%s still there", gone)
	})
}

// rolledOut is kubectl rollout status's test of a finished rollout.
func rolledOut(d *appsv1.Deployment) bool {
	want := *d.Spec.Replicas
	s := d.Status
	return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want &&
		s.Replicas == want && s.AvailableReplicas == want
}

// waitStalls waits stallAfter for settled; if it does not come, it dumps what
// each component saw of the Deployment's unsettled pods, then fails.
func waitStalls(ctx context.Context, lab *harness.Lab, cs kubernetes.Interface, name, what string, settled func(g Gomega)) {
	GinkgoHelper()
	var why string
	g := NewGomega(func(msg string, _ ...int) { why = msg })
	ok := g.Eventually(ctx, settled).WithTimeout(stallAfter).WithPolling(250 * time.Millisecond).Should(Succeed())
	if ok || ctx.Err() != nil {
		Expect(ctx.Err()).NotTo(HaveOccurred(), "interrupted while waiting for %s", what)
		return
	}
	dumpStalled(ctx, lab, cs, name)
	Fail(fmt.Sprintf("%s of %s stalled (not done %s after it began): %s", what, name, stallAfter, why))
}

// dumpStalled writes the Deployment and its ReplicaSets, and for each of its
// pods that is not ready or is going: the pod, its events, and the lines about
// it in the logs of its kubelet, the scheduler and the controller manager.
func dumpStalled(ctx context.Context, lab *harness.Lab, cs kubernetes.Interface, name string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	w := GinkgoWriter
	fmt.Fprintf(w, "\n===== stalled: Deployment %s =====\n", name)
	if d, err := cs.AppsV1().Deployments("default").Get(ctx, name, metav1.GetOptions{}); err == nil {
		fmt.Fprintf(w, "deployment generation=%d status=%s", d.Generation, asJSON(d.Status))
		dumpEvents(ctx, cs, d)
	}
	if rss, err := cs.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + name}); err == nil {
		for _, rs := range rss.Items {
			fmt.Fprintf(w, "replicaset %s uid=%s spec=%d status=%s", rs.Name, rs.UID, *rs.Spec.Replicas, asJSON(rs.Status))
			dumpEvents(ctx, cs, &rs)
		}
	}
	fmt.Fprintf(w, "----- controller-manager on %s -----\n%s", name, grepLog(lab, "controller-manager", name))
	list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		fmt.Fprintf(w, "list pods: %v\n", err)
		return
	}
	for i := range list.Items {
		if p := &list.Items[i]; !podReady(p) || p.DeletionTimestamp != nil {
			dumpPod(ctx, lab, cs, p)
		}
	}
}

func dumpPod(ctx context.Context, lab *harness.Lab, cs kubernetes.Interface, p *corev1.Pod) {
	w := GinkgoWriter
	fmt.Fprintf(w, "\n----- pod %s -----\n%s", p.Name, asJSON(p))
	dumpEvents(ctx, cs, p)
	logs := []string{"scheduler", "controller-manager"}
	if p.Spec.NodeName != "" {
		logs = append(logs, harness.KubeletComponent(p.Spec.NodeName))
	}
	for _, c := range logs {
		fmt.Fprintf(w, "-- %s on %s --\n%s", c, p.Name, grepLog(lab, c, p.Name))
	}
}

// dumpEvents writes the events about obj (this object, not an earlier one
// of the same name).
func dumpEvents(ctx context.Context, cs kubernetes.Interface, obj metav1.Object) {
	sel := fields.OneTermEqualSelector("involvedObject.uid", string(obj.GetUID())).String()
	evs, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		fmt.Fprintf(GinkgoWriter, "events of %s: %v\n", obj.GetName(), err)
		return
	}
	for _, e := range evs.Items {
		at := e.LastTimestamp.Time
		if at.IsZero() {
			at = e.EventTime.Time // events.k8s.io writers (the scheduler)
		}
		fmt.Fprintf(GinkgoWriter, "event %s %s %s/%s %s x%d: %s\n", at.Format(time.StampMilli), e.Type,
			e.InvolvedObject.Kind, obj.GetName(), e.Reason, e.Count, e.Message)
	}
}

// grepLog returns the last lines of component's log that contain s.
func grepLog(lab *harness.Lab, component, s string) []byte {
	b, err := os.ReadFile(lab.LogPath(component))
	if err != nil {
		return []byte(err.Error() + "\n")
	}
	var out bytes.Buffer
	for line := range bytes.Lines(b) {
		if bytes.Contains(line, []byte(s)) {
			out.Write(line)
		}
	}
	return harness.LastLines(out.Bytes(), 60)
}

func asJSON(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err.Error()
	}
	return string(b) + "\n"
}
