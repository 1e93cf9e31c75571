package specs

import (
	"context"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kinns/kinns/controlplane/pki"
	"github.com/kinns/kinns/harness"
)

// hostPortPod is a test pod on node whose containerPort is published as
// hostIP:hostPort ("" for every address of the node).
func hostPortPod(name, node, hostIP string, hostPort, containerPort int32, proto corev1.Protocol) *corev1.Pod {
	p := testPod(name)
	p.Spec.NodeName = node
	p.Spec.Containers[0].Ports = []corev1.ContainerPort{{
		HostIP: hostIP, HostPort: hostPort, ContainerPort: containerPort, Protocol: proto,
	}}
	return p
}

var _ = Describe("Host ports", func() {
	It("[issue 16] publish a pod on its node's address, 127.0.0.1 included, TCP and UDP, and the kubelet rejects a pod whose host port is taken", CNI, Kubelet, func(ctx SpecContext) {
		lab := bootLab(ctx, 2)
		cs := clientAs(lab, pki.Admin)
		const nodeIP = "10.89.0.21"
		for _, p := range []*corev1.Pod{
			hostPortPod("hp-any", "node-1", "", 30080, 8080, corev1.ProtocolTCP),
			hostPortPod("hp-lo", "node-1", "127.0.0.1", 30081, 8080, corev1.ProtocolTCP),
			hostPortPod("hp-udp", "node-1", nodeIP, 30080, 9000, corev1.ProtocolUDP),
		} {
			create(ctx, cs, p)
		}
		for _, name := range []string{"hp-any", "hp-lo", "hp-udp"} {
			waitFor(ctx, cs, name, time.Minute, beReady)
		}
		client := clientPods(ctx, cs, lab)["node-2"]

		By("from a pod of another node, to the node's address")
		Eventually(func() []string { return getAll(ctx, lab, cs, client, "http://"+nodeIP+":30080/hostname", 1) }).
			WithContext(ctx).WithTimeout(15 * time.Second).Should(Equal([]string{"hp-any"}))
		Expect(getAll(ctx, lab, cs, client, "http://"+nodeIP+":30081/hostname", 1)).To(ConsistOf(HavePrefix("error:")),
			"a host port bound to 127.0.0.1 is not on the node's address")
		out, err := execIn(ctx, lab, cs, client, "/testapp", "udp", nodeIP+":30080", "hostname")
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.TrimSpace(out)).To(Equal("hp-udp"), "UDP to the same port number goes to the UDP pod")

		By("from the node itself, to its address and to 127.0.0.1")
		Expect(getFromHost(ctx, lab, "node-1", "http://"+nodeIP+":30080/hostname", 3, "3s")).To(Equal([]string{"hp-any", "hp-any", "hp-any"}))
		Expect(getFromHost(ctx, lab, "node-1", "http://127.0.0.1:30080/hostname", 3, "3s")).To(Equal([]string{"hp-any", "hp-any", "hp-any"}))
		Expect(getFromHost(ctx, lab, "node-1", "http://127.0.0.1:30081/hostname", 3, "3s")).To(Equal([]string{"hp-lo", "hp-lo", "hp-lo"}))

		By("from the pod itself, through its host port (hairpin)")
		Expect(getAll(ctx, lab, cs, "hp-any", "http://"+nodeIP+":30080/hostname", 3)).To(Equal([]string{"hp-any", "hp-any", "hp-any"}))

		By("a pod that wants a taken host port is Failed at admission")
		create(ctx, cs, hostPortPod("hp-taken", "node-1", "", 30080, 8080, corev1.ProtocolTCP))
		p := waitFor(ctx, cs, "hp-taken", time.Minute, func(g Gomega, p *corev1.Pod) {
			g.Expect(p.Status.Phase).To(Equal(corev1.PodFailed))
		})
		Expect(p.Status.Reason).To(Equal("NodePorts"))
		Expect(p.Status.Message).To(Equal("Pod was rejected: Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports"))

		By("the rules go with the pod")
		deleteAndWait(ctx, cs, "hp-any")
		Eventually(func() string { return natRules(ctx, lab, "node-1") }).
			WithContext(ctx).WithTimeout(30 * time.Second).ShouldNot(ContainSubstring("default/hp-any"))
		Expect(natRules(ctx, lab, "node-1")).To(ContainSubstring("default/hp-lo"))
		Expect(getAll(ctx, lab, cs, client, "http://"+nodeIP+":30080/hostname", 1)).To(ConsistOf(HavePrefix("error:")))
	}, SpecTimeout(4*time.Minute))
})

// natRules is the nat table of a lab host.
func natRules(ctx context.Context, lab *harness.Lab, host string) string {
	GinkgoHelper()
	out, err := lab.Exec(ctx, host, "iptables-save", "-t", "nat")
	Expect(err).NotTo(HaveOccurred(), "%s", out)
	return string(out)
}

// deleteAndWait deletes a pod of default and waits until the API has it no more.
func deleteAndWait(ctx context.Context, cs kubernetes.Interface, name string) {
	GinkgoHelper()
	Expect(cs.CoreV1().Pods("default").Delete(ctx, name, metav1.DeleteOptions{})).To(Succeed())
	Eventually(func() error {
		_, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		return err
	}).WithContext(ctx).WithTimeout(time.Minute).Should(HaveOccurred())
}
