package specs

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/kinns/kinns/controlplane/pki"
	"github.com/kinns/kinns/harness"
)

// bootLabWithPool is bootLab with LoadBalancer addresses from pool.
func bootLabWithPool(ctx context.Context, nodes int, pool string) *harness.Lab {
	GinkgoHelper()
	lab, err := harness.Up(ctx, harness.Config{Name: uniqueName("lb"), Nodes: nodes, APIServers: 1, LabBinary: labBinary, LoadBalancerPool: pool, FailureLogs: failureLogs()})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx SpecContext) { Expect(lab.Down(ctx)).To(Succeed()) })
	DeferCleanup(reportOnFailure, lab)
	DeferCleanup(reportWarnings, lab)
	return lab
}

// exposeLB creates what `kubectl expose deployment APP --name NAME
// --type=LoadBalancer --port=80 --target-port=8080` does.
func exposeLB(ctx context.Context, cs kubernetes.Interface, app, name string) {
	GinkgoHelper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": app},
			Ports: []corev1.ServicePort{{Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	_, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx SpecContext) { cs.CoreV1().Services("default").Delete(ctx, name, metav1.DeleteOptions{}) })
}

// ingressIP is the Service's LoadBalancer address, "" while it has none.
func ingressIP(ctx context.Context, cs kubernetes.Interface, name string) string {
	s, err := cs.CoreV1().Services("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil || len(s.Status.LoadBalancer.Ingress) == 0 {
		return ""
	}
	return s.Status.LoadBalancer.Ingress[0].IP
}

// waitIngress waits for the Service's LoadBalancer address.
func waitIngress(ctx context.Context, cs kubernetes.Interface, name string) string {
	GinkgoHelper()
	var ip string
	Eventually(func() string { ip = ingressIP(ctx, cs, name); return ip }).
		WithContext(ctx).WithTimeout(30*time.Second).WithPolling(100*time.Millisecond).ShouldNot(BeEmpty(), "ingress of %s", name)
	return ip
}

// fabricRoute is the fabric's route to addr, as `ip route` shows it; ""
// when there is none.
func fabricRoute(lab *harness.Lab, addr string) string {
	out, err := exec.Command("ip", "-n", lab.Plan().FabricNetns, "route", "show", addr+"/32").CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), string(out))
	return strings.TrimSpace(string(out))
}

// answersFromClient asks url from the client host until every answer
// seen is one of want and all of want have answered.
func answersFromClient(ctx context.Context, lab *harness.Lab, url string, want []string) {
	GinkgoHelper()
	seen := map[string]bool{}
	Eventually(func(g Gomega) {
		for _, a := range getFromHost(ctx, lab, "client", url, 6, "2s") {
			if !slices.Contains(want, a) {
				clear(seen) // an answer from elsewhere (an old pod): start again
				g.Expect(want).To(ContainElement(a), "an answer from a pod that is not a backend")
			}
			seen[a] = true
		}
		g.Expect(seen).To(HaveLen(len(want)), "backends that answered")
	}).WithContext(ctx).WithTimeout(45 * time.Second).Should(Succeed())
}

var _ = Describe("Cloud controller manager", HA, func() {
	It("[claim 5] gives a LoadBalancer Service an address from the pool that answers from the outside client, follows its backends, keeps the client's address under externalTrafficPolicy Local, and releases it", func(ctx SpecContext) {
		lab := bootLab(ctx, 2)
		cs := clientAs(lab, pki.Admin)
		web(ctx, cs, "web", 2, corev1.ServiceTypeClusterIP)
		created := time.Now()
		exposeLB(ctx, cs, "web", "web-lb")
		ip := waitIngress(ctx, cs, "web-lb")
		gotIP := time.Since(created)
		Expect(netip.MustParsePrefix("10.89.0.192/26").Contains(netip.MustParseAddr(ip))).To(BeTrue(), "%s from 10.89.0.200-10.89.0.250", ip)
		Expect(ip).To(Equal("10.89.0.200"), "the lowest free address")
		url := "http://" + ip + "/hostname"
		Eventually(fromClient(ctx, lab, url, "2s")).WithContext(ctx).WithTimeout(30 * time.Second).WithPolling(100 * time.Millisecond).
			Should(ConsistOf(BeElementOf(backendNames(ctx, cs, "web"))))
		AddReportEntry("LoadBalancer Service created -> ingress address, -> first answer from the client", fmt.Sprintf("%s, %s", gotIP, time.Since(created)))
		answersFromClient(ctx, lab, url, backendNames(ctx, cs, "web"))
		Expect(fabricRoute(lab, ip)).To(And(ContainSubstring("10.89.0.21"), ContainSubstring("10.89.0.22")), "routed to both nodes")

		By("scaled and replaced backends are followed")
		scale(ctx, cs, "web", 3)
		waitEndpoints(ctx, cs, "web", 3)
		answersFromClient(ctx, lab, url, backendNames(ctx, cs, "web"))
		old := backendNames(ctx, cs, "web")[0]
		Expect(cs.CoreV1().Pods("default").Delete(ctx, old, metav1.DeleteOptions{})).To(Succeed())
		Eventually(func() []string { return backendNames(ctx, cs, "web") }).WithContext(ctx).WithTimeout(60 * time.Second).
			Should(And(HaveLen(3), Not(ContainElement(old))))
		waitEndpoints(ctx, cs, "web", 3)
		answersFromClient(ctx, lab, url, backendNames(ctx, cs, "web"))

		By("externalTrafficPolicy Local: routed only to the node with the pod, which sees the client's address")
		scale(ctx, cs, "web", 1)
		waitEndpoints(ctx, cs, "web", 1)
		patch := []byte(`{"spec":{"externalTrafficPolicy":"Local"}}`)
		_, err := cs.CoreV1().Services("default").Patch(ctx, "web-lb", types.MergePatchType, patch, metav1.PatchOptions{})
		Expect(err).NotTo(HaveOccurred())
		p, err := cs.CoreV1().Pods("default").Get(ctx, backendNames(ctx, cs, "web")[0], metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		n, _ := lab.Plan().Host(p.Spec.NodeName)
		Eventually(func() string { return fabricRoute(lab, ip) }).WithContext(ctx).WithTimeout(30*time.Second).
			Should(Equal(fmt.Sprintf("%s via %s dev fabric0 proto 107 onlink", ip, n.IP)), "the route names only %s", n.Name)
		Eventually(func() []string { return getFromHost(ctx, lab, "client", "http://"+ip+"/echo?client=1", 4, "2s") }).
			WithContext(ctx).WithTimeout(15 * time.Second).Should(Equal([]string{"10.89.0.100", "10.89.0.100", "10.89.0.100", "10.89.0.100"}))
		Expect(ingressIP(ctx, cs, "web-lb")).To(Equal(ip), "the Service keeps its address across syncs")

		By("the fabric routes while the cloud controller manager is down; restarted, it keeps every address")
		Expect(lab.KillComponent(ctx, harness.ComponentCloud)).To(Succeed())
		exposeLB(ctx, cs, "web", "during")
		Expect(getFromHost(ctx, lab, "client", "http://"+ip+"/echo?client=1", 4, "2s")).To(Equal([]string{"10.89.0.100", "10.89.0.100", "10.89.0.100", "10.89.0.100"}))
		Expect(lab.StartComponent(ctx, harness.ComponentCloud)).To(Succeed())
		Expect(waitIngress(ctx, cs, "during")).To(Equal("10.89.0.201"), "a Service made meanwhile gets another address")
		Expect(ingressIP(ctx, cs, "web-lb")).To(Equal(ip))
		Consistently(func() string { return fabricRoute(lab, ip) }).WithContext(ctx).WithTimeout(3*time.Second).
			Should(Equal(fmt.Sprintf("%s via %s dev fabric0 proto 107 onlink", ip, n.IP)), "still only %s", n.Name)
		Expect(cs.CoreV1().Services("default").Delete(ctx, "during", metav1.DeleteOptions{})).To(Succeed())

		By("deleting the Service releases the address: the route goes, the next Service gets it")
		Expect(cs.CoreV1().Services("default").Delete(ctx, "web-lb", metav1.DeleteOptions{})).To(Succeed())
		Eventually(func() string { return fabricRoute(lab, ip) }).WithContext(ctx).WithTimeout(30 * time.Second).Should(BeEmpty())
		Eventually(fromClient(ctx, lab, url, "1s")).WithContext(ctx).WithTimeout(15 * time.Second).Should(ConsistOf(HavePrefix("error:")))
		exposeLB(ctx, cs, "web", "next")
		Expect(waitIngress(ctx, cs, "next")).To(Equal(ip))
		Eventually(fromClient(ctx, lab, url, "2s")).WithContext(ctx).WithTimeout(30 * time.Second).Should(Equal(backendNames(ctx, cs, "web")))
	}, SpecTimeout(5*time.Minute))

	It("[claim 5] leaves a LoadBalancer Service pending with a Warning event when the pool is exhausted, and gives it the address once it is freed", func(ctx SpecContext) {
		lab := bootLabWithPool(ctx, 1, "10.89.0.240")
		cs := clientAs(lab, pki.Admin)
		web(ctx, cs, "web", 1, corev1.ServiceTypeClusterIP)
		exposeLB(ctx, cs, "web", "first")
		Expect(waitIngress(ctx, cs, "first")).To(Equal("10.89.0.240"))
		exposeLB(ctx, cs, "web", "second")
		Eventually(func(g Gomega) {
			evs, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=second,type=Warning"})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(evs.Items).To(ContainElement(And(
				HaveField("Reason", "SyncLoadBalancerFailed"),
				HaveField("Message", ContainSubstring("address pool exhausted: all 1 addresses of 10.89.0.240-10.89.0.240 are in use")))))
		}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())
		Consistently(func() string { return ingressIP(ctx, cs, "second") }).WithContext(ctx).WithTimeout(2 * time.Second).Should(BeEmpty())

		Expect(cs.CoreV1().Services("default").Delete(ctx, "first", metav1.DeleteOptions{})).To(Succeed())
		freed := time.Now()
		// At once, not after the service controller's back-off (5 s, 10 s… 5 min).
		Eventually(func() string { return ingressIP(ctx, cs, "second") }).WithContext(ctx).WithTimeout(4 * time.Second).Should(Equal("10.89.0.240"))
		AddReportEntry("address freed -> the waiting Service has it", time.Since(freed).String())
		Eventually(fromClient(ctx, lab, "http://10.89.0.240/hostname", "2s")).WithContext(ctx).WithTimeout(30 * time.Second).
			Should(Equal(backendNames(ctx, cs, "web")))
	}, SpecTimeout(4*time.Minute))

	It("[claim 5] hands the cloud controller manager over when its leader stalls: addresses and routes stay, a new Service gets a free address, and the old leader acts no more", func(ctx SpecContext) {
		lab := bootHALab(ctx, 2)
		cs := clientAs(lab, pki.Admin)
		web(ctx, cs, "web", 2, corev1.ServiceTypeClusterIP)
		exposeLB(ctx, cs, "web", "a")
		a := waitIngress(ctx, cs, "a")
		Expect(a).To(Equal("10.89.0.200"))
		answersFromClient(ctx, lab, "http://"+a+"/hostname", backendNames(ctx, cs, "web"))

		By("the leader is paused (SIGSTOP); another instance takes the Lease")
		leader := leaderHost(ctx, cs, "cloud-controller-manager")
		breakLab(ctx, lab, "component pause "+harness.CloudComponent(int(leader[len(leader)-1]-'0')))
		exposeLB(ctx, cs, "web", "b")
		b := waitIngress(ctx, cs, "b")
		Expect(b).To(Equal("10.89.0.201"), "the new leader knew a's address before it allocated")
		Expect(leaderHost(ctx, cs, "cloud-controller-manager")).NotTo(Equal(leader))
		answersFromClient(ctx, lab, "http://"+b+"/hostname", backendNames(ctx, cs, "web"))

		By("the old leader resumes as a standby: nothing changes")
		Expect(lab.HealAll(ctx)).To(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(ingressIP(ctx, cs, "a")).To(Equal(a))
			g.Expect(ingressIP(ctx, cs, "b")).To(Equal(b))
			g.Expect(fabricRoute(lab, a)).To(ContainSubstring("nexthop via 10.89.0.21"))
			g.Expect(fabricRoute(lab, b)).To(ContainSubstring("nexthop via 10.89.0.22"))
		}).WithContext(ctx).WithTimeout(6 * time.Second).WithPolling(250 * time.Millisecond).Should(Succeed())
		answersFromClient(ctx, lab, "http://"+a+"/hostname", backendNames(ctx, cs, "web"))
	}, SpecTimeout(4*time.Minute))
})
