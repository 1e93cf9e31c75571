package specs

import (
	"encoding/json"
	"os/exec"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/kinns/kinns/harness"
	"github.com/kinns/kinns/harness/proc"
)

var _ = Describe("A lab's topology", Topology, func() {
	It("lets every host reach every other host over the fabric, and each node's pod gateway", func(ctx SpecContext) {
		lab := bootLab(ctx, 3)
		plan := lab.Plan()
		for _, from := range plan.Hosts {
			for _, to := range plan.Hosts {
				if from.Name == to.Name {
					continue
				}
				out, err := lab.Exec(ctx, from.Name, "ping", "-c1", "-W2", to.IP.String())
				Expect(err).NotTo(HaveOccurred(), "%s -> %s (%s): %s", from.Name, to.Name, to.IP, out)
			}
		}
		for _, from := range append(plan.ControlPlane(), plan.Nodes()...) {
			for _, n := range plan.Nodes() {
				out, err := lab.Exec(ctx, from.Name, "ping", "-c1", "-W2", n.PodGateway.String())
				Expect(err).NotTo(HaveOccurred(), "%s -> pod gateway of %s: %s", from.Name, n.Name, out)
			}
		}
	}, SpecTimeout(2*time.Minute))

	It("leaves the host's root network namespace unchanged while it runs and after", func(ctx SpecContext) {
		before := rootNetworkSnapshot()
		lab, err := harness.Up(ctx, harness.Config{Name: uniqueName("t"), Nodes: 3, LabBinary: labBinary, FailureLogs: failureLogs()})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) { lab.Down(ctx) })
		Expect(rootNetworkSnapshot()).To(Equal(before), "while the lab runs")
		Expect(lab.Down(ctx)).To(Succeed())
		Expect(rootNetworkSnapshot()).To(Equal(before), "after the lab is down")
		expectNothingLeft(ctx, lab.Name(), 3)
	}, SpecTimeout(2*time.Minute))

	It("is removed by Down even after its supervisor was killed with SIGKILL", func(ctx SpecContext) {
		before := rootNetworkSnapshot()
		name := uniqueName("k")
		DeferCleanup(func(ctx SpecContext) { runLab(ctx, "down", "--name", name) })
		runLab(ctx, "up", "--name", name, "--nodes", "2")

		var st harness.Status
		Expect(json.Unmarshal(runLab(ctx, "status", "--name", name, "-o", "json"), &st)).To(Succeed())
		Expect(st.Ready).To(BeTrue())
		Expect(st.Hosts).To(HaveLen(3 + 2 + 1))
		supervisor, err := proc.Identify(st.Supervisor.PID)
		Expect(err).NotTo(HaveOccurred())
		Expect(syscall.Kill(supervisor.PID, syscall.SIGKILL)).To(Succeed())
		Eventually(supervisor.Alive).WithContext(ctx).WithTimeout(10 * time.Second).Should(BeFalse())

		// A new lab of that name is refused until the leftovers are removed.
		out := runLabFails(ctx, "up", "--name", name)
		Expect(out).To(ContainSubstring("lab down --name " + name))

		runLab(ctx, "down", "--name", name)
		expectNothingLeft(ctx, name, 2)
		Expect(rootNetworkSnapshot()).To(Equal(before))
		// Down is idempotent.
		Expect(string(runLab(ctx, "down", "--name", name))).To(ContainSubstring("nothing to take down"))
	}, SpecTimeout(3*time.Minute))
})

// runLab runs the lab binary and expects success; it returns stdout.
func runLab(ctx SpecContext, args ...string) []byte {
	GinkgoHelper()
	cmd := exec.CommandContext(ctx, labBinary, args...)
	s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	Eventually(s).WithContext(ctx).WithTimeout(2*time.Minute).Should(gexec.Exit(0), "lab %v", args)
	return s.Out.Contents()
}

// runLabFails runs the lab binary and expects it to fail; it returns stderr.
func runLabFails(ctx SpecContext, args ...string) string {
	GinkgoHelper()
	cmd := exec.CommandContext(ctx, labBinary, args...)
	s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	Eventually(s).WithContext(ctx).WithTimeout(time.Minute).Should(gexec.Exit())
	Expect(s.ExitCode()).NotTo(Equal(0), "lab %v should have failed", args)
	return string(s.Err.Contents())
}
