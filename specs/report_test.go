package specs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kinns/kinns/controlplane/pki"
	"github.com/kinns/kinns/harness"
)

// reportWarnings adds the lab's Warning events to the spec's report (in
// _output/e2e.json), passed or not: a readiness probe that failed once, a
// back-off, a failed mount, which a spec may survive but a person reading
// a later failure wants to know of.
func reportWarnings(ctx context.Context, lab *harness.Lab) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	evs, err := clientAs(lab, pki.Admin).CoreV1().Events("").List(ctx, metav1.ListOptions{FieldSelector: "type=Warning"})
	if err != nil || len(evs.Items) == 0 {
		return
	}
	var b strings.Builder
	for _, e := range evs.Items {
		fmt.Fprintf(&b, "%s x%d %s %s/%s: %s\n", e.LastTimestamp.Format(time.StampMilli), max(e.Count, 1),
			e.Reason, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Message)
	}
	AddReportEntry("warning events", b.String(), ReportEntryVisibilityFailureOrVerbose)
}

// reportOnFailure writes, when the spec failed, what a person debugging it
// from CI output needs: every pod with its node, phase and owner, the recent
// events, and the last lines of the control plane's logs.
func reportOnFailure(ctx context.Context, lab *harness.Lab) {
	if !CurrentSpecReport().Failed() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	w := GinkgoWriter
	fmt.Fprintf(w, "\n===== lab %s after the failure =====\n", lab.Name())
	cs := clientAs(lab, pki.Admin)
	if pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{}); err != nil {
		fmt.Fprintf(w, "list pods: %v\n", err)
	} else {
		for _, p := range pods.Items {
			owner := ""
			if ref := metav1.GetControllerOf(&p); ref != nil {
				owner = ref.Kind + "/" + ref.Name
			}
			fmt.Fprintf(w, "pod %s/%s node=%q phase=%s ready=%v owner=%s created=%s deleting=%v conditions=%v containers=%v\n",
				p.Namespace, p.Name, p.Spec.NodeName, p.Status.Phase, podReady(&p), owner,
				p.CreationTimestamp.Format(time.StampMilli), p.DeletionTimestamp != nil, p.Status.Conditions, p.Status.ContainerStatuses)
		}
	}
	if nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err == nil {
		for _, n := range nodes.Items {
			fmt.Fprintf(w, "node %s taints=%v unschedulable=%v\n", n.Name, n.Spec.Taints, n.Spec.Unschedulable)
		}
	}
	if evs, err := cs.CoreV1().Events("").List(ctx, metav1.ListOptions{}); err == nil {
		items := evs.Items
		sort.Slice(items, func(i, j int) bool { return items[i].LastTimestamp.Before(&items[j].LastTimestamp) })
		for _, e := range items[max(0, len(items)-40):] {
			fmt.Fprintf(w, "event %s %s %s/%s: %s\n", e.Type, e.Reason, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Message)
		}
	}
	logs := []string{"scheduler", "controller-manager", harness.ComponentCloud, "apiserver", "etcd-1", "etcd-2", "etcd-3"}
	for _, n := range lab.Plan().Nodes() {
		logs = append(logs, harness.KubeletComponent(n.Name), harness.ProxyComponent(n.Name))
		if out, err := lab.Exec(ctx, n.Name, "iptables-save", "-t", "nat"); err == nil {
			fmt.Fprintf(w, "----- nat rules of %s -----\n%s\n", n.Name, harness.LastLines(out, 60))
		}
	}
	for _, c := range logs {
		b, err := os.ReadFile(lab.LogPath(c))
		if err != nil {
			continue
		}
		fmt.Fprintf(w, "----- last lines of %s -----\n%s\n", c, harness.LastLines(b, 40))
	}
	keepLogs(lab)
}

// keepLogs copies a failed spec's lab logs (every component's, the audit
// log, the supervisor's) to $KINNS_ARTIFACTS/failed-labs/<lab>/, which CI
// keeps: the lab's own folder goes with the lab.
func keepLogs(lab *harness.Lab) {
	root := os.Getenv("KINNS_ARTIFACTS")
	if root == "" {
		return
	}
	dst := filepath.Join(root, "failed-labs", lab.Name())
	err := lab.CopyLogs(dst)
	fmt.Fprintf(GinkgoWriter, "logs of lab %s kept in %s (%v)\n", lab.Name(), dst, err)
}
