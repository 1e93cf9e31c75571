package specs

import (
	"fmt"
	"io"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kinns/kinns/cni/netns"
	"github.com/kinns/kinns/controlplane/pki"
	"github.com/kinns/kinns/harness/topology"
)

var (
	Kubelet = Label("kubelet")
	CNI     = Label("cni")
)

var _ = Describe("Pods on nodes", func() {
	It("[claim 9] every pod reaches every pod, on its node and across nodes", CNI, func(ctx SpecContext) {
		lab := bootLab(ctx, 3)
		cs := clientAs(lab, pki.Admin)
		var names []string
		for _, n := range lab.Plan().Nodes() {
			for i := range 2 {
				p := testPod(fmt.Sprintf("mesh-%s-%d", n.Name, i))
				p.Spec.NodeName = n.Name
				create(ctx, cs, p)
				names = append(names, p.Name)
			}
		}
		ips := map[string]string{}
		for _, name := range names {
			p := waitFor(ctx, cs, name, time.Minute, beReady)
			ips[name] = p.Status.PodIP
		}
		for _, from := range names {
			for _, to := range names {
				out, err := execIn(ctx, lab, cs, from, "/testapp", "get", "http://"+ips[to]+":8080/hostname")
				Expect(err).NotTo(HaveOccurred())
				Expect(out).To(Equal(to), "%s -> %s (%s)", from, to, ips[to])
			}
		}
	}, SpecTimeout(4*time.Minute))

	It("[claim 8] runs containers as containerd tasks inside the pod's network namespace", Kubelet, func(ctx SpecContext) {
		lab := bootLab(ctx, 1)
		cs := clientAs(lab, pki.Admin)
		create(ctx, cs, testPod("task"))
		p := waitFor(ctx, cs, "task", time.Minute, beReady)
		Expect(p.Spec.NodeName).To(Equal("node-1"))
		Expect(p.Status.ContainerStatuses[0].ContainerID).To(HavePrefix("containerd://"))
		id := strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "containerd://")

		pid := taskPID(ctx, lab.ContainerdAddress(), topology.ContainerdNamespace(lab.Name(), "node-1"), id)
		h, err := netns.Handle(fmt.Sprintf("/proc/%d/ns/net", pid))
		Expect(err).NotTo(HaveOccurred())
		defer h.Close()
		addrs, err := h.AddrList(nil, 2)
		Expect(err).NotTo(HaveOccurred())
		var got []string
		for _, a := range addrs {
			got = append(got, a.IP.String())
		}
		Expect(got).To(ContainElement(p.Status.PodIP), "the task's network namespace holds the pod IP")
	}, SpecTimeout(2*time.Minute))

	It("[claims 6, 12] restarts a crashing container with growing backoff and reports it", Kubelet, func(ctx SpecContext) {
		lab := bootLab(ctx, 1)
		cs := clientAs(lab, pki.Admin)
		create(ctx, cs, testPod("crash", "get", "http://127.0.0.1:1/"))
		var restarts []time.Time
		last := int32(0)
		Eventually(func(g Gomega) {
			p, err := cs.CoreV1().Pods("default").Get(ctx, "crash", metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(p.Status.ContainerStatuses).NotTo(BeEmpty())
			st := p.Status.ContainerStatuses[0]
			if st.RestartCount > last {
				last = st.RestartCount
				restarts = append(restarts, time.Now())
			}
			g.Expect(st.RestartCount).To(BeNumerically(">=", 3))
			g.Expect(st.LastTerminationState.Terminated).NotTo(BeNil())
			g.Expect(st.LastTerminationState.Terminated.ExitCode).To(BeEquivalentTo(1))
		}).WithContext(ctx).WithTimeout(90 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
		Eventually(func() string {
			p, _ := cs.CoreV1().Pods("default").Get(ctx, "crash", metav1.GetOptions{})
			if w := p.Status.ContainerStatuses[0].State.Waiting; w != nil {
				return w.Reason
			}
			return ""
		}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Equal("CrashLoopBackOff"))
		if len(restarts) >= 3 {
			Expect(restarts[2].Sub(restarts[1])).To(BeNumerically(">", restarts[1].Sub(restarts[0])/2),
				"backoff must not shrink: restarts at %v", restarts)
		}
	}, SpecTimeout(3*time.Minute))

	It("restarts on a failing liveness probe and marks the pod not Ready on a failing readiness probe", Kubelet, func(ctx SpecContext) {
		lab := bootLab(ctx, 1)
		cs := clientAs(lab, pki.Admin)
		p := testPod("probed")
		p.Spec.Containers[0].LivenessProbe = &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}},
			PeriodSeconds: 1, FailureThreshold: 2,
		}
		p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(8080)}},
			PeriodSeconds: 1, FailureThreshold: 1,
		}
		create(ctx, cs, p)
		waitFor(ctx, cs, "probed", time.Minute, beReady)

		_, err := execIn(ctx, lab, cs, "probed", "/testapp", "get", "http://127.0.0.1:8080/ready?fail=1")
		Expect(err).NotTo(HaveOccurred())
		waitFor(ctx, cs, "probed", 30*time.Second, func(g Gomega, p *corev1.Pod) {
			g.Expect(podReady(p)).To(BeFalse())
			g.Expect(p.Status.ContainerStatuses[0].RestartCount).To(BeZero())
		})

		_, err = execIn(ctx, lab, cs, "probed", "/testapp", "get", "http://127.0.0.1:8080/healthz?fail=1")
		Expect(err).NotTo(HaveOccurred())
		waitFor(ctx, cs, "probed", 60*time.Second, func(g Gomega, p *corev1.Pod) {
			g.Expect(p.Status.ContainerStatuses[0].RestartCount).To(BeNumerically(">=", 1))
			beReady(g, p) // a fresh container is healthy and ready again
		})
	}, SpecTimeout(3*time.Minute))

	It("honours the grace period when a pod is deleted", Kubelet, func(ctx SpecContext) {
		lab := bootLab(ctx, 1)
		cs := clientAs(lab, pki.Admin)
		grace := int64(30)
		p := testPod("graceful", "serve", "--term-delay", "3s")
		p.Spec.TerminationGracePeriodSeconds = &grace
		create(ctx, cs, p)
		waitFor(ctx, cs, "graceful", time.Minute, beReady)
		start := time.Now()
		Expect(cs.CoreV1().Pods("default").Delete(ctx, "graceful", metav1.DeleteOptions{})).To(Succeed())
		Eventually(func() bool {
			_, err := cs.CoreV1().Pods("default").Get(ctx, "graceful", metav1.GetOptions{})
			return err != nil
		}).WithContext(ctx).WithTimeout(40 * time.Second).WithPolling(100 * time.Millisecond).Should(BeTrue())
		Expect(time.Since(start)).To(BeNumerically(">=", 3*time.Second), "the container asked for 3s after SIGTERM and got them")

		short := int64(1)
		p = testPod("impatient", "serve", "--term-delay", "60s")
		p.Spec.TerminationGracePeriodSeconds = &short
		create(ctx, cs, p)
		waitFor(ctx, cs, "impatient", time.Minute, beReady)
		Expect(cs.CoreV1().Pods("default").Delete(ctx, "impatient", metav1.DeleteOptions{})).To(Succeed())
		Eventually(func() bool {
			_, err := cs.CoreV1().Pods("default").Get(ctx, "impatient", metav1.GetOptions{})
			return err != nil
		}).WithContext(ctx).WithTimeout(30*time.Second).Should(BeTrue(), "SIGKILL after the grace period")
	}, SpecTimeout(3*time.Minute))

	It("serves logs and exec, keeps pods running across a kubelet restart, and reports the node's own capacity", Kubelet, func(ctx SpecContext) {
		lab := bootLab(ctx, 1)
		cs := clientAs(lab, pki.Admin)
		create(ctx, cs, testPod("steady"))
		before := waitFor(ctx, cs, "steady", time.Minute, beReady)

		out, err := execIn(ctx, lab, cs, "steady", "/testapp", "get", "http://127.0.0.1:8080/hostname")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal("steady"))
		_, err = execIn(ctx, lab, cs, "steady", "/testapp", "get", "http://127.0.0.1:8080/echo?msg=hello-logs")
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() string {
			b, _ := cs.CoreV1().Pods("default").GetLogs("steady", &corev1.PodLogOptions{}).DoRaw(ctx)
			return string(b)
		}).WithContext(ctx).WithTimeout(20 * time.Second).ShouldNot(BeEmpty())

		Expect(lab.RestartKubelet(ctx, "node-1")).To(Succeed())
		Consistently(func(g Gomega) {
			p, err := cs.CoreV1().Pods("default").Get(ctx, "steady", metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(p.Status.ContainerStatuses[0].ContainerID).To(Equal(before.Status.ContainerStatuses[0].ContainerID))
			g.Expect(p.Status.ContainerStatuses[0].RestartCount).To(BeZero())
		}).WithContext(ctx).WithTimeout(8 * time.Second).Should(Succeed())

		node, err := cs.CoreV1().Nodes().Get(ctx, "node-1", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(node.Status.Capacity.Cpu().Equal(resource.MustParse("2"))).To(BeTrue(), "cpu %s", node.Status.Capacity.Cpu())
		Expect(node.Status.Capacity.Memory().Equal(resource.MustParse("4Gi"))).To(BeTrue(), "memory %s", node.Status.Capacity.Memory())
	}, SpecTimeout(3*time.Minute))

	It("attaches to a container's stdin and output, with or without a terminal, as kubectl run -i and -it do", Kubelet, func(ctx SpecContext) {
		lab := bootLab(ctx, 1)
		cs := clientAs(lab, pki.Admin)
		for _, tty := range []bool{false, true} {
			name := map[bool]string{false: "typist", true: "terminal"}[tty]
			p := testPod(name, "cat", "/dev/stdin")
			p.Spec.RestartPolicy = corev1.RestartPolicyNever
			c := &p.Spec.Containers[0]
			c.Stdin, c.StdinOnce, c.TTY = true, true, tty
			create(ctx, cs, p)
			waitFor(ctx, cs, name, time.Minute, beReady)

			By(name + ": what is typed reaches the container, and its output comes back")
			var input io.Reader = strings.NewReader("typed through attach\n")
			if tty {
				// A terminal's session ends with its input, so the input
				// stays open; ^D is the terminal's end of file, for cat.
				r, w := io.Pipe()
				go io.WriteString(w, "typed through attach\n\x04")
				DeferCleanup(w.Close)
				input = r
			}
			out, err := attachTo(ctx, lab, cs, name, input, tty)
			Expect(err).NotTo(HaveOccurred())
			if tty {
				// The terminal echoes the line, then cat writes it, each with CR LF.
				Expect(out).To(Equal("typed through attach\r\ntyped through attach\r\n"))
			} else {
				Expect(out).To(Equal("typed through attach\n"))
			}

			By(name + ": the end of input reaches it too: cat ends, the pod succeeds")
			waitFor(ctx, cs, name, 30*time.Second, func(g Gomega, p *corev1.Pod) {
				g.Expect(p.Status.Phase).To(Equal(corev1.PodSucceeded))
			})
			logs, err := cs.CoreV1().Pods("default").GetLogs(name, &corev1.PodLogOptions{}).DoRaw(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(logs)).To(ContainSubstring("typed through attach"), "the output is in the log too")
		}
	}, SpecTimeout(3*time.Minute))

	It("gives containers service variables and a working service account token", Kubelet, func(ctx SpecContext) {
		lab := bootLab(ctx, 1)
		cs := clientAs(lab, pki.Admin)
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "shop"}, Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "nobody"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
		}}
		svc, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		create(ctx, cs, testPod("insider"))
		waitFor(ctx, cs, "insider", time.Minute, beReady)

		By("the variables of the kubernetes Service and of the namespace's services")
		env, err := execIn(ctx, lab, cs, "insider", "/testapp", "env")
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.Split(env, "\n")).To(ContainElements(
			"KUBERNETES_SERVICE_HOST=10.96.0.1", "KUBERNETES_SERVICE_PORT=443",
			"SHOP_SERVICE_HOST="+svc.Spec.ClusterIP, "SHOP_SERVICE_PORT_HTTP=80",
			"SHOP_PORT=tcp://"+svc.Spec.ClusterIP+":80", "HOSTNAME=insider"))

		By("the service account volume: namespace, the lab's CA and a token the API server accepts")
		const dir = "/var/run/secrets/kubernetes.io/serviceaccount/"
		ns, err := execIn(ctx, lab, cs, "insider", "/testapp", "cat", dir+"namespace")
		Expect(err).NotTo(HaveOccurred())
		Expect(ns).To(Equal("default"))
		ca, err := execIn(ctx, lab, cs, "insider", "/testapp", "cat", dir+"ca.crt")
		Expect(err).NotTo(HaveOccurred())
		rc, err := lab.RESTConfig()
		Expect(err).NotTo(HaveOccurred())
		Expect(ca).To(Equal(string(rc.CAData)))
		token, err := execIn(ctx, lab, cs, "insider", "/testapp", "cat", dir+"token")
		Expect(err).NotTo(HaveOccurred())
		asPod := rest.AnonymousClientConfig(rc)
		asPod.BearerToken = token
		review, err := kubernetes.NewForConfigOrDie(asPod).AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(review.Status.UserInfo.Username).To(Equal("system:serviceaccount:default:default"))
	}, SpecTimeout(2*time.Minute))

	It("reports a container killed for going over its memory limit as OOMKilled", Kubelet, func(ctx SpecContext) {
		lab := bootLab(ctx, 1)
		cs := clientAs(lab, pki.Admin)
		p := testPod("greedy", "alloc", "96")
		p.Spec.RestartPolicy = corev1.RestartPolicyNever
		p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")}
		create(ctx, cs, p)
		waitFor(ctx, cs, "greedy", time.Minute, func(g Gomega, p *corev1.Pod) {
			g.Expect(p.Status.Phase).To(Equal(corev1.PodFailed))
			g.Expect(p.Status.ContainerStatuses).To(HaveLen(1))
			t := p.Status.ContainerStatuses[0].State.Terminated
			g.Expect(t).NotTo(BeNil())
			g.Expect(t.Reason).To(Equal("OOMKilled"))
			g.Expect(t.ExitCode).To(BeEquivalentTo(137))
		})
	}, SpecTimeout(2*time.Minute))
})
