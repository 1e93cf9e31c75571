package specs

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kinns/kinns/controlplane/pki"
	"github.com/kinns/kinns/harness"
)

var Flow = Label("flow")

// auditEvent is what the flow reads of an audit log line.
type auditEvent struct {
	Stage     string `json:"stage"`
	Verb      string `json:"verb"`
	User      struct{ Username string }
	ObjectRef struct {
		Resource, Subresource, Namespace, Name string
	} `json:"objectRef"`
	Received metav1.MicroTime `json:"requestReceivedTimestamp"`
	// ResponseObject is a Pod for pod status writes, a Status for bindings.
	ResponseObject json.RawMessage `json:"responseObject"`
}

// readyPod reports whether the event's answer is a pod that is Ready.
func (ev auditEvent) readyPod() bool {
	var p corev1.Pod
	return json.Unmarshal(ev.ResponseObject, &p) == nil && podReady(&p)
}

// readAudit returns the completed requests of the lab's audit log.
func readAudit(lab *harness.Lab) []auditEvent {
	GinkgoHelper()
	f, err := os.Open(lab.AuditLogPath())
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	var out []auditEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev auditEvent
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Stage == "ResponseComplete" {
			out = append(out, ev)
		}
	}
	Expect(sc.Err()).NotTo(HaveOccurred())
	return out
}

// step is one stage of an order's flow.
type step struct {
	who, what string
	at        time.Time
}

// firstEvent finds the first audit event from a user (prefix) matching
// match, received no sooner than after.
func firstEvent(events []auditEvent, user string, after time.Time, match func(auditEvent) bool) (auditEvent, bool) {
	for _, ev := range events {
		if strings.HasPrefix(ev.User.Username, user) && !ev.Received.Time.Before(after) && match(ev) {
			return ev, true
		}
	}
	return auditEvent{}, false
}

var _ = Describe("The flow of an order", Flow, func() {
	It("[claim 11] goes from the API server to the scheduler, the kubelet, the endpoints and every node's proxy, in that order", func(ctx SpecContext) {
		lab := bootLab(ctx, 2)
		cs := clientAs(lab, pki.Admin)
		_, err := cs.CoreV1().Services("default").Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "flow"},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "flow"},
				Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())

		p := testPod("flow-1")
		p.Labels = map[string]string{"app": "flow"}
		p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{PeriodSeconds: 1,
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(8080)}}}
		create(ctx, cs, p)
		pod := waitFor(ctx, cs, "flow-1", time.Minute, beReady)

		By("every node's proxy has the pod's address in its rules")
		var programmed time.Time
		Eventually(func(g Gomega) {
			for _, n := range lab.Plan().Nodes() {
				out, err := lab.Exec(ctx, n.Name, "iptables-save", "-t", "nat")
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(string(out)).To(ContainSubstring(pod.Status.PodIP+":8080"), "rules of %s", n.Name)
			}
			programmed = time.Now()
		}).WithContext(ctx).WithTimeout(30 * time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())

		By("the audit log tells who did what, and when")
		events := readAudit(lab)
		isPod := func(sub, verb string) func(auditEvent) bool {
			return func(ev auditEvent) bool {
				return ev.ObjectRef.Resource == "pods" && ev.ObjectRef.Name == "flow-1" && ev.ObjectRef.Subresource == sub && ev.Verb == verb
			}
		}
		var steps []step
		// add notes the first event of user, after the previous step, that
		// matches.
		add := func(who, what, user string, match func(auditEvent) bool) time.Time {
			GinkgoHelper()
			after := time.Time{}
			if len(steps) > 0 {
				after = steps[len(steps)-1].at
			}
			ev, ok := firstEvent(events, user, after, match)
			Expect(ok).To(BeTrue(), "the audit log has no %q by %s", what, user)
			steps = append(steps, step{who, what, ev.Received.Time})
			return ev.Received.Time
		}
		created := add("API server", "pod flow-1 created by kinns-admin", "kinns-admin", isPod("", "create"))
		add("scheduler", "bound it to "+pod.Spec.NodeName, "system:kube-scheduler", isPod("binding", "create"))
		node := "system:node:" + pod.Spec.NodeName
		add("kubelet", "first status from "+pod.Spec.NodeName, node, isPod("status", "patch"))
		add("kubelet", "reported the pod Ready", node, func(ev auditEvent) bool {
			return isPod("status", "patch")(ev) && ev.readyPod()
		})
		add("endpointslice controller", "put the pod in the Service's EndpointSlice", "system:serviceaccount:kube-system:endpointslice-controller", func(ev auditEvent) bool {
			return ev.ObjectRef.Resource == "endpointslices" && ev.ObjectRef.Namespace == "default" && (ev.Verb == "create" || ev.Verb == "update")
		})
		steps = append(steps, step{"proxy", fmt.Sprintf("every node's rules (%d nodes) send to %s", len(lab.Plan().Nodes()), pod.Status.PodIP), programmed})

		var b strings.Builder
		for i, s := range steps {
			fmt.Fprintf(&b, "%+8.3fs  %-26s %s\n", s.at.Sub(created).Seconds(), s.who, s.what)
			if i > 0 {
				Expect(s.at).NotTo(BeTemporally("<", steps[i-1].at), "%s came before %s", s.what, steps[i-1].what)
			}
		}
		AddReportEntry("flow of pod flow-1", b.String())
	}, SpecTimeout(3*time.Minute))
})
