package specs

import (
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	corev1 "k8s.io/api/core/v1"

	"github.com/kinns/kinns/cni/netns"
	"github.com/kinns/kinns/controlplane/pki"
	"github.com/kinns/kinns/harness"
)

var _ = Describe("The lab command", CLI, func() {
	It("refuses bad input with a message that says what to do", func(ctx SpecContext) {
		Expect(runLabFails(ctx, "up", "--name", "Bad_Name")).To(ContainSubstring("invalid lab name"))
		Expect(runLabFails(ctx, "up", "--nodes", "0", "--name", uniqueName("x"))).To(ContainSubstring("1 to 79 nodes"))
		Expect(runLabFails(ctx, "up", "--timing", "slow", "--name", uniqueName("x"))).To(ContainSubstring(`use "fast" or "kubernetes"`))
		Expect(runLabFails(ctx, "up", "--dns-upstream", "resolver", "--name", uniqueName("x"))).To(ContainSubstring("want IP:PORT"))
		Expect(runLabFails(ctx, "status", "--name", uniqueName("none"))).To(ContainSubstring("lab up"))
		Expect(runLabFails(ctx, "status", "-o", "yaml")).To(ContainSubstring("-o json"))
	}, SpecTimeout(time.Minute))

	It("keeps a lab whose bring-up failed when asked to retain it, and lab down removes it", func(ctx SpecContext) {
		name := uniqueName("r")
		// Whatever fails below, the kept lab does not outlive the spec.
		DeferCleanup(func(ctx SpecContext) { runLab(ctx, "down", "--name", name) })
		// A containerd that is not there: bring-up fails once the hosts exist.
		out := runLabFails(ctx, "up", "--name", name, "--nodes", "1", "--retain", "--containerd-address", "/run/kinns-no-such.sock")
		Expect(out).To(ContainSubstring("kept for inspection"))
		Expect(netns.Exists(name+"-node-1")).To(BeTrue(), "the failed lab's hosts are still there")
		Expect(string(runLab(ctx, "status", "--name", name))).To(ContainSubstring("supervisor gone"))
		runLab(ctx, "down", "--name", name)
		Expect(netns.Exists(name + "-node-1")).To(BeFalse())
	}, SpecTimeout(2*time.Minute))

	It("tells a user who is not root to run it as root", func(ctx SpecContext) {
		cmd := exec.CommandContext(ctx, labBinary, "up", "--name", uniqueName("x"), "--state-root", GinkgoT().TempDir())
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Eventually(s).WithContext(ctx).Should(gexec.Exit(1))
		Expect(string(s.Err.Contents())).To(ContainSubstring("as root"))
	}, SpecTimeout(time.Minute))

	It("runs commands inside a host or a pod, passes their exit status on, and shows logs", func(ctx SpecContext) {
		name := uniqueName("e")
		DeferCleanup(func(ctx SpecContext) { runLab(ctx, "down", "--name", name) })
		runLab(ctx, "up", "--name", name, "--nodes", "3")
		Expect(string(runLab(ctx, "exec", "--name", name, "node-1", "--", "ping", "-c1", "-W2", "10.89.0.23"))).To(ContainSubstring("1 received"))
		Expect(string(runLab(ctx, "exec", "--name", name, "client", "ip", "-4", "addr", "show", "eth0"))).To(ContainSubstring("10.89.0.100/24"))

		cmd := exec.CommandContext(ctx, labBinary, "exec", "--name", name, "cp-2", "--", "sh", "-c", "exit 7")
		s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Eventually(s).WithContext(ctx).Should(gexec.Exit(7))

		Expect(runLabFails(ctx, "exec", "--name", name, "node-9", "--", "true")).To(ContainSubstring("hosts are [cp-1"))
		Expect(runLabFails(ctx, "up", "--name", name)).To(ContainSubstring("already up"))

		By("inside a pod's network namespace")
		lab, err := harness.Attach("", name)
		Expect(err).NotTo(HaveOccurred())
		cs := clientAs(lab, pki.Admin)
		create(ctx, cs, testPod("inside"))
		pod := waitFor(ctx, cs, "inside", time.Minute, func(g Gomega, p *corev1.Pod) { g.Expect(p.Status.PodIP).NotTo(BeEmpty()) })
		for _, host := range []string{"pod/default/inside", "pod/inside"} {
			Expect(string(runLab(ctx, "exec", "--name", name, host, "--", "ip", "-4", "-o", "addr", "show", "eth0"))).To(ContainSubstring(pod.Status.PodIP + "/24"))
		}
		Expect(runLabFails(ctx, "exec", "--name", name, "pod/default/missing", "--", "true")).To(ContainSubstring("not found"))
		Expect(runLabFails(ctx, "exec", "--name", name, "pod/a/b/c", "--", "true")).To(ContainSubstring("pod/NAMESPACE/NAME"))

		By("a user's image archive, loaded into every node")
		archive := filepath.Join(GinkgoT().TempDir(), "mine.tar")
		writeUserImage(archive, "example.local/mine:v1", true)
		Expect(string(runLab(ctx, "load", "--name", name, archive))).To(ContainSubstring("loaded into 3 nodes: example.local/mine:v1"))
		mine := testPod("mine")
		mine.Spec.Containers[0].Image = "example.local/mine:v1"
		mine.Spec.Containers[0].ImagePullPolicy = corev1.PullNever
		mine.Spec.NodeName = "node-3"
		create(ctx, cs, mine)
		waitFor(ctx, cs, "mine", time.Minute, beReady)
		Expect(runLabFails(ctx, "load", "--name", name, archive+".missing")).To(ContainSubstring("no such file"))
		anywhere := filepath.Join(GinkgoT().TempDir(), "anywhere.tar")
		writeUserImage(anywhere, "example.local/anywhere:v1", false)
		Expect(runLabFails(ctx, "load", "--name", name, anywhere)).To(ContainSubstring("names no os and architecture"))

		By("its logs")
		Expect(strings.Fields(string(runLab(ctx, "logs", "--name", name)))).To(ContainElements("apiserver", "etcd-2", "kubelet/node-3", "scheduler", "lab"))
		Expect(string(runLab(ctx, "logs", "--name", name, "kubelet/node-1"))).NotTo(BeEmpty())
		tail := strings.TrimRight(string(runLab(ctx, "logs", "--name", name, "--tail", "2", "apiserver")), "\n")
		Expect(strings.Split(tail, "\n")).To(HaveLen(2)) // the last may be a line still being written
		Expect(runLabFails(ctx, "logs", "--name", name, "kubelet")).To(ContainSubstring("kubelet/node-1"))
	}, SpecTimeout(3*time.Minute))
})
