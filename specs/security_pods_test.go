package specs

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/kinns/kinns/controlplane/pki"
	"github.com/kinns/kinns/harness"
)

// securityLabel marks the specs of the lab's defences (issue 13).
var securityLabel = Label("security")

// withSecurity is testPod with a pod and a container security context.
func withSecurity(name string, psc *corev1.PodSecurityContext, sc *corev1.SecurityContext) *corev1.Pod {
	p := testPod(name)
	p.Spec.SecurityContext = psc
	p.Spec.Containers[0].SecurityContext = sc
	return p
}

// procStatus is the field of /proc/self/status of a process execed into
// the pod's container ("CapEff" -> "000001ffffffffff").
func procStatus(ctx context.Context, lab *harness.Lab, cs kubernetes.Interface, pod string) map[string]string {
	GinkgoHelper()
	out, err := execIn(ctx, lab, cs, pod, "/testapp", "cat", "/proc/self/status")
	Expect(err).NotTo(HaveOccurred())
	return parseStatus(out)
}

func parseStatus(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

var _ = Describe("Pod security", securityLabel, Ordered, func() {
	var (
		lab *harness.Lab
		cs  kubernetes.Interface
	)
	BeforeAll(func(ctx SpecContext) {
		lab = bootLab(ctx, 1)
		cs = clientAs(lab, pki.Admin)
	}, NodeTimeout(2*time.Minute))

	It("runs a container as the user and groups its securityContext names, with a read-only root and an fsGroup-owned emptyDir", func(ctx SpecContext) {
		p := withSecurity("ids", &corev1.PodSecurityContext{
			RunAsUser: ptr.To[int64](1000), RunAsGroup: ptr.To[int64](3000),
			SupplementalGroups: []int64{4000}, FSGroup: ptr.To[int64](2000),
		}, &corev1.SecurityContext{RunAsUser: ptr.To[int64](1001), ReadOnlyRootFilesystem: ptr.To(true)})
		p.Spec.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "scratch", MountPath: "/scratch"}}
		create(ctx, cs, p)
		waitFor(ctx, cs, "ids", time.Minute, beReady)

		By("id: the container's runAsUser over the pod's, the pod's group, fsGroup and supplementalGroups")
		out, err := execIn(ctx, lab, cs, "ids", "/testapp", "id")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal("uid=1001 gid=3000 groups=2000,3000,4000\n"))

		By("the root filesystem refuses writes; the emptyDir is group 2000, setgid, and its new files inherit the group")
		_, err = execIn(ctx, lab, cs, "ids", "/testapp", "write", "/written", "x")
		Expect(err).To(MatchError(ContainSubstring("read-only file system")))
		_, err = execIn(ctx, lab, cs, "ids", "/testapp", "write", "/scratch/f", "x")
		Expect(err).NotTo(HaveOccurred())
		out, err = execIn(ctx, lab, cs, "ids", "/testapp", "stat", "/scratch", "/scratch/f")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal("/scratch drwxrwsrwx uid=0 gid=2000\n/scratch/f -rw-r--r-- uid=1001 gid=2000\n"))
	}, SpecTimeout(90*time.Second))

	It("drops, adds and grants capabilities, sets no_new_privs and seccomp as asked", func(ctx SpecContext) {
		create(ctx, cs, testPod("plain"))
		create(ctx, cs, withSecurity("locked", &corev1.PodSecurityContext{
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		}, &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		}))
		create(ctx, cs, withSecurity("netadmin", nil, &corev1.SecurityContext{
			Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"CAP_NET_ADMIN"}, Drop: []corev1.Capability{"NET_RAW"}},
		}))
		create(ctx, cs, withSecurity("priv", nil, &corev1.SecurityContext{Privileged: ptr.To(true)}))
		for _, name := range []string{"plain", "locked", "netadmin", "priv"} {
			waitFor(ctx, cs, name, time.Minute, beReady)
		}
		self, err := os.ReadFile("/proc/self/status")
		Expect(err).NotTo(HaveOccurred())
		full := parseStatus(string(self))["CapEff"] // this root process' own

		By("by default: containerd's 14 capabilities, privilege escalation allowed, no seccomp filter (as upstream)")
		st := procStatus(ctx, lab, cs, "plain")
		Expect([]string{st["CapEff"], st["NoNewPrivs"], st["Seccomp"]}).To(Equal([]string{"00000000a80425fb", "0", "0"}))
		By("drop ALL, allowPrivilegeEscalation false, RuntimeDefault: no capabilities, no_new_privs, a seccomp filter")
		st = procStatus(ctx, lab, cs, "locked")
		Expect([]string{st["CapEff"], st["CapBnd"], st["NoNewPrivs"], st["Seccomp"]}).To(Equal([]string{"0000000000000000", "0000000000000000", "1", "2"}))
		By("add CAP_NET_ADMIN, drop NET_RAW (both spellings)")
		Expect(procStatus(ctx, lab, cs, "netadmin")["CapEff"]).To(Equal("00000000a80415fb"))
		By("privileged: every capability, no filter, /sys writable")
		st = procStatus(ctx, lab, cs, "priv")
		Expect([]string{st["CapEff"], st["Seccomp"]}).To(Equal([]string{full, "0"}))
		mounts, err := execIn(ctx, lab, cs, "priv", "/testapp", "cat", "/proc/self/mounts")
		Expect(err).NotTo(HaveOccurred())
		Expect(mounts).To(MatchRegexp(`(?m)^sysfs /sys sysfs rw,`))
	}, SpecTimeout(2*time.Minute))

	It("refuses to run as root under runAsNonRoot with CreateContainerConfigError and upstream's message", func(ctx SpecContext) {
		root := create(ctx, cs, withSecurity("asroot", &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true)}, nil))
		create(ctx, cs, withSecurity("nonroot", &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](1000)}, nil))
		want := fmt.Sprintf("container has runAsNonRoot and image will run as root (pod: %q, container: app)",
			fmt.Sprintf("asroot_default(%s)", root.UID))
		waitFor(ctx, cs, "asroot", time.Minute, func(g Gomega, p *corev1.Pod) {
			g.Expect(p.Status.ContainerStatuses).To(HaveLen(1))
			w := p.Status.ContainerStatuses[0].State.Waiting
			g.Expect(w).NotTo(BeNil())
			g.Expect(w.Reason).To(Equal("CreateContainerConfigError"))
			g.Expect(w.Message).To(Equal(want))
			g.Expect(p.Status.Phase).To(Equal(corev1.PodPending))
		})
		Eventually(func(g Gomega) {
			evs, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=asroot,reason=Failed"})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(evs.Items).NotTo(BeEmpty())
			g.Expect(evs.Items[0].Type).To(Equal(corev1.EventTypeWarning))
			g.Expect(evs.Items[0].Message).To(Equal("Error: " + want))
		}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())
		waitFor(ctx, cs, "nonroot", time.Minute, beReady)
	}, SpecTimeout(90*time.Second))

	It("sets a pod's safe sysctls in its own namespaces, not the host's, and refuses an unsafe one with SysctlForbidden", func(ctx SpecContext) {
		hostShm, err := os.ReadFile("/proc/sys/kernel/shm_rmid_forced")
		Expect(err).NotTo(HaveOccurred())
		create(ctx, cs, withSecurity("tuned", &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{
			{Name: "kernel/shm_rmid_forced", Value: "1"}, {Name: "net.ipv4.ip_unprivileged_port_start", Value: "80"}}}, nil))
		create(ctx, cs, withSecurity("unsafe", &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{
			{Name: "kernel.msgmax", Value: "10000000000"}}}, nil))
		waitFor(ctx, cs, "tuned", time.Minute, beReady)

		By("the IPC sysctl in the container's IPC namespace, the net one in the pod's network namespace")
		for file, want := range map[string]string{"/proc/sys/kernel/shm_rmid_forced": "1", "/proc/sys/net/ipv4/ip_unprivileged_port_start": "80"} {
			out, err := execIn(ctx, lab, cs, "tuned", "/testapp", "cat", file)
			Expect(err).NotTo(HaveOccurred())
			Expect(strings.TrimSpace(out)).To(Equal(want), file)
		}
		Expect(os.ReadFile("/proc/sys/kernel/shm_rmid_forced")).To(Equal(hostShm), "the host's own value")

		By("the unsafe one, not allowed on the node: Failed, SysctlForbidden, nothing started")
		waitFor(ctx, cs, "unsafe", time.Minute, func(g Gomega, p *corev1.Pod) {
			g.Expect(p.Status.Phase).To(Equal(corev1.PodFailed))
			g.Expect(p.Status.Reason).To(Equal("SysctlForbidden"))
			g.Expect(p.Status.Message).To(Equal(`Pod was rejected: forbidden sysctl: "kernel.msgmax" not allowlisted`))
			g.Expect(p.Status.ContainerStatuses).NotTo(ContainElement(HaveField("State.Running", Not(BeNil()))))
		})
	}, SpecTimeout(2*time.Minute))

	It("enforces Pod Security Admission: a restricted namespace refuses a privileged pod with 403 naming the violations, and runs a restricted one", func(ctx SpecContext) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "locked-down",
			Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}}
		_, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) { cs.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{}) })
		pods := cs.CoreV1().Pods(ns.Name)

		priv := withSecurity("priv", nil, &corev1.SecurityContext{Privileged: ptr.To(true)})
		var status metav1.Status
		Eventually(func(g Gomega) {
			// The namespace's default service account comes from the
			// controller manager; until then admission stops earlier.
			_, err := pods.Create(ctx, priv, metav1.CreateOptions{})
			var se *apierrors.StatusError
			g.Expect(err).To(BeAssignableToTypeOf(se))
			status = err.(*apierrors.StatusError).ErrStatus
			g.Expect(status.Message).To(ContainSubstring("PodSecurity"))
		}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())
		Expect(status.Code).To(Equal(int32(http.StatusForbidden)))
		Expect(status.Reason).To(Equal(metav1.StatusReasonForbidden))
		Expect(status.Message).To(HavePrefix(`pods "priv" is forbidden: violates PodSecurity "restricted:latest": `))
		for _, v := range []string{
			`privileged (container "app" must not set securityContext.privileged=true)`,
			`allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false)`,
			`unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"])`,
			`runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true)`,
			`seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`,
		} {
			Expect(status.Message).To(ContainSubstring(v))
		}

		ok := withSecurity("ok", &corev1.PodSecurityContext{
			RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](1000),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		}, &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		})
		_, err = pods.Create(ctx, ok, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(g Gomega) {
			p, err := pods.Get(ctx, "ok", metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			beReady(g, p)
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
		DeferCleanup(func(ctx SpecContext) { pods.Delete(ctx, "ok", metav1.DeleteOptions{}) })
	}, SpecTimeout(2*time.Minute))
})
