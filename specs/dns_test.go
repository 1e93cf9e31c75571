package specs

import (
	"context"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/kinns/kinns/controlplane/pki"
	"github.com/kinns/kinns/harness"
)

var DNS = Label("dns")

// resolve asks from inside a pod, through its resolv.conf, and returns the
// answers, or one "error: …" line.
func resolve(ctx context.Context, lab *harness.Lab, cs kubernetes.Interface, pod, name string, typ ...string) []string {
	args := []string{"/testapp", "resolve"}
	if len(typ) > 0 {
		args = append(args, "--type", typ[0])
	}
	out, err := execIn(ctx, lab, cs, pod, append(args, name)...)
	if err != nil && out == "" {
		return []string{"error: " + err.Error()}
	}
	return lines(out)
}

func createService(ctx context.Context, cs kubernetes.Interface, svc *corev1.Service) *corev1.Service {
	GinkgoHelper()
	got, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx SpecContext) { cs.CoreV1().Services("default").Delete(ctx, svc.Name, metav1.DeleteOptions{}) })
	return got
}

var _ = Describe("Cluster DNS", DNS, func() {
	It("[claim 13] resolves Services by name from a pod: short, namespaced and full names, SRV, ExternalName, and NXDOMAIN", func(ctx SpecContext) {
		lab := bootLab(ctx, 2)
		cs := clientAs(lab, pki.Admin)
		svc := web(ctx, cs, "web", 2, corev1.ServiceTypeClusterIP)
		client := clientPods(ctx, cs, lab)["node-1"]
		for _, name := range []string{"web", "web.default", "web.default.svc.cluster.local"} {
			Expect(resolve(ctx, lab, cs, client, name)).To(Equal([]string{svc.Spec.ClusterIP}), "A %s", name)
		}
		Expect(getAll(ctx, lab, cs, client, "http://web/hostname", 6)).To(HaveEach(HavePrefix("web-")), "fetch through the name")
		Expect(resolve(ctx, lab, cs, client, "_http._tcp.web.default.svc.cluster.local", "SRV")).
			To(Equal([]string{"0 100 80 web.default.svc.cluster.local."}))
		createService(ctx, cs, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "outside"},
			Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.org"},
		})
		Eventually(func() []string { return resolve(ctx, lab, cs, client, "outside.default.svc.cluster.local", "CNAME") }).
			WithContext(ctx).WithTimeout(15 * time.Second).Should(Equal([]string{"example.org."}))
		start := time.Now()
		Expect(resolve(ctx, lab, cs, client, "nothing-here.default.svc.cluster.local")).To(ConsistOf(HavePrefix("error: NXDOMAIN")))
		Expect(time.Since(start)).To(BeNumerically("<", 5*time.Second), "an unknown name fails at once, not after time-outs")
	}, SpecTimeout(4*time.Minute))

	It("resolves a headless Service to its ready pods, and a pod by hostname and subdomain", func(ctx SpecContext) {
		lab := bootLab(ctx, 2)
		cs := clientAs(lab, pki.Admin)
		var ips []string
		for _, name := range []string{"pod-a", "pod-b"} {
			p := testPod(name)
			p.Labels = map[string]string{"app": "sub"}
			p.Spec.Hostname, p.Spec.Subdomain = name, "sub"
			create(ctx, cs, p)
		}
		createService(ctx, cs, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "sub"},
			Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": "sub"},
				Ports: []corev1.ServicePort{{Name: "http", Port: 8080, TargetPort: intstr.FromInt32(8080)}}},
		})
		for _, name := range []string{"pod-a", "pod-b"} {
			ips = append(ips, waitFor(ctx, cs, name, time.Minute, beReady).Status.PodIP)
		}
		Eventually(func() []string { return resolve(ctx, lab, cs, "pod-a", "sub.default.svc.cluster.local") }).
			WithContext(ctx).WithTimeout(20 * time.Second).Should(ConsistOf(ips))
		Expect(resolve(ctx, lab, cs, "pod-a", "pod-b.sub.default.svc.cluster.local")).To(Equal([]string{ips[1]}))
	}, SpecTimeout(3*time.Minute))

	It("writes resolv.conf by dnsPolicy: ClusterFirst, and None with dnsConfig", func(ctx SpecContext) {
		lab := bootLab(ctx, 1)
		cs := clientAs(lab, pki.Admin)
		create(ctx, cs, testPod("first"))
		custom := testPod("custom")
		custom.Spec.DNSPolicy = corev1.DNSNone
		custom.Spec.DNSConfig = &corev1.PodDNSConfig{
			Nameservers: []string{"10.96.0.10"}, Searches: []string{"svc.cluster.local"},
			Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: new("2")}},
		}
		create(ctx, cs, custom)
		waitFor(ctx, cs, "first", time.Minute, beReady)
		waitFor(ctx, cs, "custom", time.Minute, beReady)
		out, err := execIn(ctx, lab, cs, "first", "/testapp", "cat", "/etc/resolv.conf")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring("nameserver 10.96.0.10\n"))
		Expect(out).To(ContainSubstring("search default.svc.cluster.local svc.cluster.local cluster.local\n"))
		Expect(out).To(ContainSubstring("options ndots:5"))
		out, err = execIn(ctx, lab, cs, "custom", "/testapp", "cat", "/etc/resolv.conf")
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.TrimSpace(out)).To(Equal("nameserver 10.96.0.10\nsearch svc.cluster.local\noptions ndots:2"))
		Expect(resolve(ctx, lab, cs, "custom", "kubernetes.default")).To(Equal([]string{"10.96.0.1"}), "through its own search list")
	}, SpecTimeout(3*time.Minute))

	It("keeps answering while one of the two DNS instances is killed", func(ctx SpecContext) {
		lab := bootLab(ctx, 1)
		cs := clientAs(lab, pki.Admin)
		create(ctx, cs, testPod("asker"))
		waitFor(ctx, cs, "asker", time.Minute, beReady)
		Expect(lab.KillDNS(ctx, "cp-2")).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { lab.StartDNS(ctx, "cp-2") })
		Eventually(func() []string { return readyEndpointsIn(ctx, cs, "kube-system", "kube-dns") }).
			WithContext(ctx).WithTimeout(15*time.Second).Should(Equal([]string{"10.89.0.13"}), "the killed instance leaves the endpoints")
		for range 10 {
			Expect(resolve(ctx, lab, cs, "asker", "kubernetes.default")).To(Equal([]string{"10.96.0.1"}))
		}
		Expect(lab.StartDNS(ctx, "cp-2")).To(Succeed())
		Eventually(func() []string { return readyEndpointsIn(ctx, cs, "kube-system", "kube-dns") }).
			WithContext(ctx).WithTimeout(15*time.Second).Should(ConsistOf("10.89.0.12", "10.89.0.13"), "and comes back")
	}, SpecTimeout(3*time.Minute))
})

// readyEndpointsIn lists the ready endpoint addresses of a Service.
func readyEndpointsIn(ctx context.Context, cs kubernetes.Interface, ns, svc string) []string {
	list, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + svc})
	if err != nil {
		return nil
	}
	var ips []string
	for _, s := range list.Items {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready == nil || *e.Conditions.Ready {
				ips = append(ips, e.Addresses...)
			}
		}
	}
	return ips
}
