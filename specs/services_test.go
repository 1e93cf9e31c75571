package specs

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/kinns/kinns/controlplane/pki"
	"github.com/kinns/kinns/harness"
)

var Services = Label("services")

// web runs a Deployment of the test image with a readiness probe, exposed
// by a Service of type typ (HTTP 80 -> 8080, UDP 9000 -> 9000), and waits
// until every replica is Ready and the Service has all of them as
// endpoints.
func web(ctx context.Context, cs kubernetes.Interface, name string, replicas int32, typ corev1.ServiceType) *corev1.Service {
	GinkgoHelper()
	d := deployment(name, replicas)
	c := &d.Spec.Template.Spec.Containers[0]
	c.ReadinessProbe = &corev1.Probe{PeriodSeconds: 1, FailureThreshold: 1,
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(8080)}}}
	_, err := cs.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx SpecContext) {
		cs.AppsV1().Deployments("default").Delete(ctx, name, metav1.DeleteOptions{})
	})
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			Type: typ, Selector: map[string]string{"app": name},
			Ports: []corev1.ServicePort{
				{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(8080)},
				{Name: "echo", Protocol: corev1.ProtocolUDP, Port: 9000, TargetPort: intstr.FromInt32(9000)},
			},
		},
	}
	svc, err = cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx SpecContext) {
		cs.CoreV1().Services("default").Delete(ctx, name, metav1.DeleteOptions{})
	})
	waitEndpoints(ctx, cs, name, int(replicas))
	return svc
}

// waitEndpoints waits until the Service has n ready endpoints and n ready pods.
func waitEndpoints(ctx context.Context, cs kubernetes.Interface, name string, n int) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		_, pods := podsOf(ctx, cs, name)
		g.Expect(readyCount(pods)).To(Equal(n), "ready pods of %s", name)
		g.Expect(readyEndpoints(ctx, cs, name)).To(HaveLen(n), "ready endpoints of %s", name)
	}).WithContext(ctx).WithTimeout(90 * time.Second).WithPolling(250 * time.Millisecond).Should(Succeed())
}

// readyEndpoints lists the addresses of a default Service's ready endpoints.
func readyEndpoints(ctx context.Context, cs kubernetes.Interface, svc string) []string {
	return readyEndpointsIn(ctx, cs, "default", svc)
}

// clientPods runs one test pod on each node, to send requests from, and
// returns their names by node. A node that has its client already keeps
// it; one whose client went, or is going, with its node gets a new one.
func clientPods(ctx context.Context, cs kubernetes.Interface, lab *harness.Lab) map[string]string {
	GinkgoHelper()
	names := map[string]string{}
	for _, n := range lab.Plan().Nodes() {
		p := testPod("client-" + n.Name)
		p.Spec.NodeName = n.Name
		names[n.Name] = p.Name
		old, err := cs.CoreV1().Pods("default").Get(ctx, p.Name, metav1.GetOptions{})
		if err == nil && old.DeletionTimestamp == nil {
			continue
		}
		if err == nil { // going with its node: wait until it is gone, then make a new one
			Eventually(func() bool {
				_, err := cs.CoreV1().Pods("default").Get(ctx, p.Name, metav1.GetOptions{})
				return apierrors.IsNotFound(err)
			}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(250*time.Millisecond).Should(BeTrue(), "%s still terminating", p.Name)
		}
		create(ctx, cs, p)
	}
	for _, name := range names {
		waitFor(ctx, cs, name, time.Minute, beReady)
	}
	return names
}

// getAll fetches url count times from a pod (one connection each) and
// returns one line per request: a body, or "error: …".
func getAll(ctx context.Context, lab *harness.Lab, cs kubernetes.Interface, pod, url string, count int) []string {
	out, err := execIn(ctx, lab, cs, pod, "/testapp", "get", "--timeout", "3s", "--count", fmt.Sprint(count), url)
	if count == 1 && err != nil {
		return []string{"error: " + err.Error()} // one request says why on stderr
	}
	return lines(out)
}

// getFromHost is getAll from a lab host (a node, the client), with the
// test program the lab puts on every host.
func getFromHost(ctx context.Context, lab *harness.Lab, host, url string, count int, timeout string) []string {
	out, err := lab.Exec(ctx, host, harness.TestAppCommand, "get", "--timeout", timeout, "--count", fmt.Sprint(count), url)
	if count == 1 && err != nil {
		return []string{"error: " + string(out)} // stdout and stderr together
	}
	return lines(string(out))
}

// fromClient asks url once from the outside client host, for Eventually.
func fromClient(ctx context.Context, lab *harness.Lab, url, timeout string) func() []string {
	return func() []string { return getFromHost(ctx, lab, "client", url, 1, timeout) }
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l != "" && !strings.HasPrefix(l, "testapp: ") {
			out = append(out, l)
		}
	}
	return out
}

func svcURL(svc *corev1.Service, path string) string {
	return "http://" + svc.Spec.ClusterIP + path
}

func nodePortURL(host string, svc *corev1.Service, path string) string {
	return fmt.Sprintf("http://%s:%d%s", host, svc.Spec.Ports[0].NodePort, path)
}

// backendNames are the names of the Service's ready pods.
func backendNames(ctx context.Context, cs kubernetes.Interface, name string) []string {
	_, pods := podsOf(ctx, cs, name)
	var names []string
	for i := range pods {
		if podReady(&pods[i]) {
			names = append(names, pods[i].Name)
		}
	}
	slices.Sort(names)
	return names
}

func distinct(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return slices.Compact(out)
}

// expectProxyMadeNoWrites reads the API server's audit log: the proxies'
// identity read Services and EndpointSlices, and wrote nothing [claim 10].
func expectProxyMadeNoWrites(lab *harness.Lab) {
	GinkgoHelper()
	f, err := os.Open(lab.AuditLogPath())
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	reads, writes := 0, []string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev struct {
			Verb       string `json:"verb"`
			RequestURI string `json:"requestURI"`
			User       struct {
				Username string `json:"username"`
			} `json:"user"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.User.Username != "system:kube-proxy" {
			continue
		}
		switch ev.Verb {
		case "get", "list", "watch":
			reads++
		default:
			writes = append(writes, ev.Verb+" "+ev.RequestURI)
		}
	}
	Expect(sc.Err()).NotTo(HaveOccurred())
	Expect(reads).To(BeNumerically(">", 0), "the audit log has no request of system:kube-proxy at all")
	Expect(writes).To(BeEmpty(), "system:kube-proxy wrote to the API")
}

var _ = Describe("Service routing", Services, func() {
	It("[claims 7, 10, 13] a ClusterIP reaches every backend from a pod on every node and from the nodes themselves", func(ctx SpecContext) {
		lab := bootLab(ctx, 3)
		cs := clientAs(lab, pki.Admin)
		svc := web(ctx, cs, "web", 3, corev1.ServiceTypeClusterIP)
		backends := backendNames(ctx, cs, "web")
		clients := clientPods(ctx, cs, lab)
		for node, client := range clients {
			got := getAll(ctx, lab, cs, client, svcURL(svc, "/hostname"), 30)
			Expect(got).To(HaveLen(30), "from %s", node)
			Expect(distinct(got)).To(Equal(backends), "30 requests from a pod on %s should reach every backend, and only them", node)
		}
		for _, n := range lab.Plan().Nodes() {
			got := getFromHost(ctx, lab, n.Name, svcURL(svc, "/hostname"), 12, "3s")
			Expect(got).To(HaveLen(12))
			Expect(backends).To(ContainElements(distinct(got)), "from node %s itself", n.Name)
		}
		By("the kubernetes Service reaches the API server")
		out, _ := execIn(ctx, lab, cs, clients["node-2"], "/testapp", "get", "--timeout", "3s", "--insecure", "https://10.96.0.1/healthz")
		Expect(out).To(Or(Equal("ok"), ContainSubstring("401"), ContainSubstring("403")), "an answer from the API server")
		expectProxyMadeNoWrites(lab)
	}, SpecTimeout(4*time.Minute))

	It("[claim 7] sends nothing to a pod that is not Ready, and sends again once it is", func(ctx SpecContext) {
		lab := bootLab(ctx, 2)
		cs := clientAs(lab, pki.Admin)
		svc := web(ctx, cs, "web", 2, corev1.ServiceTypeClusterIP)
		backends := backendNames(ctx, cs, "web")
		sick := backends[0]
		client := clientPods(ctx, cs, lab)["node-1"]
		_, err := execIn(ctx, lab, cs, sick, "/testapp", "get", "http://127.0.0.1:8080/ready?fail=1")
		Expect(err).NotTo(HaveOccurred())
		waitFor(ctx, cs, sick, 30*time.Second, func(g Gomega, p *corev1.Pod) { g.Expect(podReady(p)).To(BeFalse()) })
		Eventually(func() []string { return distinct(getAll(ctx, lab, cs, client, svcURL(svc, "/hostname"), 12)) }).
			WithContext(ctx).WithTimeout(30*time.Second).Should(Equal([]string{backends[1]}), "only the Ready pod answers")
		_, err = execIn(ctx, lab, cs, sick, "/testapp", "get", "http://127.0.0.1:8080/ready?fail=0")
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() []string { return distinct(getAll(ctx, lab, cs, client, svcURL(svc, "/hostname"), 20)) }).
			WithContext(ctx).WithTimeout(30*time.Second).Should(Equal(backends), "the pod gets traffic again once Ready")
	}, SpecTimeout(3*time.Minute))

	It("[claim 7] answers a NodePort from outside on every node; with externalTrafficPolicy Local only where a pod runs, keeping the client's address", func(ctx SpecContext) {
		lab := bootLab(ctx, 3)
		cs := clientAs(lab, pki.Admin)
		svc := web(ctx, cs, "web", 1, corev1.ServiceTypeNodePort)
		backend := backendNames(ctx, cs, "web")[0]
		for _, n := range lab.Plan().Nodes() {
			// Each node's proxy programs the port once it has seen the
			// endpoint, which may be a moment after the API shows it (as
			// with kube-proxy): the first answer is waited for, then every
			// request must reach the backend.
			Eventually(fromClient(ctx, lab, nodePortURL(n.IP.String(), svc, "/hostname"), "3s")).
				WithContext(ctx).WithTimeout(15*time.Second).Should(Equal([]string{backend}), "client -> %s", n.Name)
			Expect(getFromHost(ctx, lab, "client", nodePortURL(n.IP.String(), svc, "/hostname"), 3, "3s")).
				To(Equal([]string{backend, backend, backend}), "client -> %s", n.Name)
		}
		By("externalTrafficPolicy: Local, as a LoadBalancer Service, which also has a health check node port")
		patch := []byte(`{"spec":{"type":"LoadBalancer","externalTrafficPolicy":"Local"}}`)
		svc, err := cs.CoreV1().Services("default").Patch(ctx, "web", types.MergePatchType, patch, metav1.PatchOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(svc.Spec.HealthCheckNodePort).NotTo(BeZero())
		p, err := cs.CoreV1().Pods("default").Get(ctx, backend, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		for _, n := range lab.Plan().Nodes() {
			health := fmt.Sprintf("http://%s:%d/", n.IP, svc.Spec.HealthCheckNodePort)
			if n.Name == p.Spec.NodeName {
				Eventually(fromClient(ctx, lab, nodePortURL(n.IP.String(), svc, "/echo?client=1"), "2s")).
					WithContext(ctx).WithTimeout(15*time.Second).Should(Equal([]string{"10.89.0.100"}), "the node with the pod keeps the client's address")
				Eventually(fromClient(ctx, lab, health, "2s")).
					WithContext(ctx).WithTimeout(15 * time.Second).Should(ConsistOf(ContainSubstring(`"localEndpoints":1`)))
				continue
			}
			Eventually(fromClient(ctx, lab, nodePortURL(n.IP.String(), svc, "/hostname"), "1s")).
				WithContext(ctx).WithTimeout(15*time.Second).Should(ConsistOf(HavePrefix("error:")), "%s has no local endpoint", n.Name)
			Eventually(fromClient(ctx, lab, health, "2s")).
				WithContext(ctx).WithTimeout(15*time.Second).Should(ConsistOf(ContainSubstring("503")), "health check of %s", n.Name)
		}
		expectProxyMadeNoWrites(lab)
	}, SpecTimeout(4*time.Minute))

	It("[claim 7] lets a pod reach itself through its own Service", func(ctx SpecContext) {
		lab := bootLab(ctx, 1)
		cs := clientAs(lab, pki.Admin)
		svc := web(ctx, cs, "web", 1, corev1.ServiceTypeClusterIP)
		self := backendNames(ctx, cs, "web")[0]
		Expect(getAll(ctx, lab, cs, self, svcURL(svc, "/hostname"), 5)).To(Equal([]string{self, self, self, self, self}))
	}, SpecTimeout(2*time.Minute))

	It("[claim 7] refuses at once when a Service has no endpoints, and serves again when it has", func(ctx SpecContext) {
		lab := bootLab(ctx, 2)
		cs := clientAs(lab, pki.Admin)
		svc := web(ctx, cs, "web", 1, corev1.ServiceTypeClusterIP)
		client := clientPods(ctx, cs, lab)["node-2"]
		scale(ctx, cs, "web", 0)
		Eventually(func() []string { return getAll(ctx, lab, cs, client, svcURL(svc, "/hostname"), 1) }).
			WithContext(ctx).WithTimeout(30*time.Second).Should(ConsistOf(ContainSubstring("connection refused")),
			"a refusal, not a time-out")
		scale(ctx, cs, "web", 1)
		waitEndpoints(ctx, cs, "web", 1)
		Eventually(func() []string { return getAll(ctx, lab, cs, client, svcURL(svc, "/hostname"), 1) }).
			WithContext(ctx).WithTimeout(30 * time.Second).Should(Equal(backendNames(ctx, cs, "web")))
	}, SpecTimeout(3*time.Minute))

	It("[claim 7] carries UDP through a ClusterIP, and a UDP client keeps working after its backend is replaced", func(ctx SpecContext) {
		lab := bootLab(ctx, 2)
		cs := clientAs(lab, pki.Admin)
		svc := web(ctx, cs, "web", 1, corev1.ServiceTypeClusterIP)
		old := backendNames(ctx, cs, "web")[0]
		client := clientPods(ctx, cs, lab)["node-1"]
		addr := svc.Spec.ClusterIP + ":9000"
		out, err := execIn(ctx, lab, cs, client, "/testapp", "udp", addr, "hostname")
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.TrimSpace(out)).To(Equal(old))

		By("one client socket keeps sending while its backend is replaced")
		done := make(chan string, 1)
		go func() {
			defer GinkgoRecover()
			out, _ := execIn(ctx, lab, cs, client, "/testapp", "udp", "--count", "60", "--interval", "250ms", "--timeout", "500ms", addr, "hostname")
			done <- out
		}()
		time.Sleep(2 * time.Second)
		Expect(cs.CoreV1().Pods("default").Delete(ctx, old, metav1.DeleteOptions{})).To(Succeed())
		var replies []string
		Eventually(done).WithContext(ctx).WithTimeout(2 * time.Minute).Should(Receive(&out))
		replies = lines(out)
		Expect(replies).NotTo(BeEmpty())
		Expect(replies[0]).To(Equal(old))
		last := replies[len(replies)-1]
		Expect(last).NotTo(Equal(old), "the flow still went to the old pod: %v", replies)
		Expect(backendNames(ctx, cs, "web")).To(ContainElement(last), "the last replies come from the new pod: %v", replies)
	}, SpecTimeout(4*time.Minute))

	It("[claim 17] puts back a proxy chain flushed by hand", func(ctx SpecContext) {
		lab := bootLab(ctx, 1)
		cs := clientAs(lab, pki.Admin)
		svc := web(ctx, cs, "web", 1, corev1.ServiceTypeClusterIP)
		backends := backendNames(ctx, cs, "web")
		_, err := lab.Exec(ctx, "node-1", "iptables", "-t", "nat", "-F", "KINNS-SERVICES")
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() []string { return getFromHost(ctx, lab, "node-1", svcURL(svc, "/hostname"), 1, "1s") }).
			WithContext(ctx).WithTimeout(30*time.Second).Should(Equal(backends), "the rules come back within the resync period")
	}, SpecTimeout(2*time.Minute))
})

func scale(ctx context.Context, cs kubernetes.Interface, name string, n int32) {
	GinkgoHelper()
	patch := []byte(fmt.Sprintf(`{"spec":{"replicas":%d}}`, n))
	_, err := cs.AppsV1().Deployments("default").Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	Expect(err).NotTo(HaveOccurred())
}
