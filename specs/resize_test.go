package specs

import (
	"context"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kinns/kinns/controlplane/pki"
	"github.com/kinns/kinns/harness"
)

var _ = Describe("In-place pod resize", func() {
	It("applies a resize of a running pod's CPU and memory to its cgroup, without a restart, and reports it", Kubelet, func(ctx SpecContext) {
		lab := bootLab(ctx, 1)
		cs := clientAs(lab, pki.Admin)
		p := testPod("elastic")
		p.Spec.Containers[0].Resources = corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		}
		create(ctx, cs, p)
		before := waitFor(ctx, cs, "elastic", time.Minute, beReady)
		Expect(cgroupLimits(ctx, lab, cs, "elastic")).To(Equal([2]string{"20000", "67108864"}))
		Expect(*before.Status.ContainerStatuses[0].Resources).To(BeComparableTo(p.Spec.Containers[0].Resources))

		By("resizing through the resize subresource")
		bigger := corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("300m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
		}
		want := before.DeepCopy()
		want.Spec.Containers[0].Resources = bigger
		resized, err := cs.CoreV1().Pods("default").UpdateResize(ctx, "elastic", want, metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(resized.Generation).To(BeNumerically(">", before.Generation))

		after := waitFor(ctx, cs, "elastic", time.Minute, func(g Gomega, p *corev1.Pod) {
			g.Expect(p.Status.ObservedGeneration).To(Equal(resized.Generation))
			g.Expect(resizeConditions(p)).To(BeEmpty())
			g.Expect(p.Status.ContainerStatuses[0].Resources).NotTo(BeNil())
			g.Expect(equality.Semantic.DeepEqual(*p.Status.ContainerStatuses[0].Resources, bigger)).To(BeTrue(),
				"status resources %+v", p.Status.ContainerStatuses[0].Resources)
		})
		st := after.Status.ContainerStatuses[0]
		Expect(st.RestartCount).To(BeZero())
		Expect(st.ContainerID).To(Equal(before.Status.ContainerStatuses[0].ContainerID))
		Expect(equality.Semantic.DeepEqual(st.AllocatedResources, bigger.Requests)).To(BeTrue(), "allocated %v", st.AllocatedResources)
		Expect(cgroupLimits(ctx, lab, cs, "elastic")).To(Equal([2]string{"50000", "134217728"}), "read inside the container")

		By("a resize the other pods leave no room for waits as Deferred, and goes through once they leave")
		hog := testPod("hog")
		hog.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("3Gi")}
		create(ctx, cs, hog)
		waitFor(ctx, cs, "hog", time.Minute, beReady)
		roomy := after.DeepCopy()
		roomy.Spec.Containers[0].Resources.Requests[corev1.ResourceMemory] = resource.MustParse("2Gi")
		roomy.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory] = resource.MustParse("2Gi")
		_, err = cs.CoreV1().Pods("default").UpdateResize(ctx, "elastic", roomy, metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())
		waitFor(ctx, cs, "elastic", 30*time.Second, func(g Gomega, p *corev1.Pod) {
			c := resizeConditions(p)
			g.Expect(c).To(HaveLen(1))
			g.Expect(c[0].Type).To(Equal(corev1.PodResizePending))
			g.Expect(c[0].Reason).To(Equal(corev1.PodReasonDeferred))
		})
		Expect(cgroupLimits(ctx, lab, cs, "elastic")).To(Equal([2]string{"50000", "134217728"}), "unchanged while deferred")
		Expect(cs.CoreV1().Pods("default").Delete(ctx, "hog", metav1.DeleteOptions{})).To(Succeed())
		waitFor(ctx, cs, "elastic", time.Minute, func(g Gomega, p *corev1.Pod) {
			g.Expect(resizeConditions(p)).To(BeEmpty())
			g.Expect(p.Status.ContainerStatuses[0].AllocatedResources.Memory().String()).To(Equal("2Gi"))
		})
		Expect(cgroupLimits(ctx, lab, cs, "elastic")).To(Equal([2]string{"50000", "2147483648"}))
	}, SpecTimeout(3*time.Minute))
})

func resizeConditions(p *corev1.Pod) []corev1.PodCondition {
	var out []corev1.PodCondition
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodResizePending || c.Type == corev1.PodResizeInProgress {
			out = append(out, c)
		}
	}
	return out
}

// cgroupLimits reads the app container's CPU quota and memory limit from
// inside it, from cgroup v2's files or else v1's.
func cgroupLimits(ctx context.Context, lab *harness.Lab, cs kubernetes.Interface, pod string) [2]string {
	GinkgoHelper()
	read := func(path string) (string, error) {
		out, err := execIn(ctx, lab, cs, pod, "/testapp", "cat", path)
		return strings.TrimSpace(out), err
	}
	if cpuMax, err := read("/sys/fs/cgroup/cpu.max"); err == nil {
		mem, err := read("/sys/fs/cgroup/memory.max")
		Expect(err).NotTo(HaveOccurred())
		return [2]string{strings.Fields(cpuMax)[0], mem}
	}
	quota, err := read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
	Expect(err).NotTo(HaveOccurred())
	mem, err := read("/sys/fs/cgroup/memory/memory.limit_in_bytes")
	Expect(err).NotTo(HaveOccurred())
	return [2]string{quota, mem}
}
