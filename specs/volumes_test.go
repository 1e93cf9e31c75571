package specs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/kinns/kinns/controlplane/pki"
	"github.com/kinns/kinns/harness"
)

// volumesLabel marks the specs of volumes (issue 15, item 2), part of the
// workloads concern.
var volumesLabel = Label("workloads")

// withVolume is testPod with one volume mounted at path.
func withVolume(name string, vol corev1.VolumeSource, path string) *corev1.Pod {
	p := testPod(name)
	p.Spec.Volumes = []corev1.Volume{{Name: "vol", VolumeSource: vol}}
	p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "vol", MountPath: path}}
	return p
}

func claimVolume(claim string) corev1.VolumeSource {
	return corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}
}

// deletePod deletes a pod and waits until it is gone.
func deletePod(ctx context.Context, cs kubernetes.Interface, name string) {
	GinkgoHelper()
	Expect(cs.CoreV1().Pods("default").Delete(ctx, name, metav1.DeleteOptions{})).To(Succeed())
	Eventually(func() bool {
		_, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(200*time.Millisecond).Should(BeTrue(), "pod %s not gone", name)
}

// eventNotes are the messages of the pod's events with reason.
func eventNotes(ctx context.Context, cs kubernetes.Interface, pod, reason string) []string {
	var out []string
	for _, e := range podEvents(ctx, cs, pod) {
		if msg, ok := strings.CutPrefix(e, reason+": "); ok {
			out = append(out, msg)
		}
	}
	return out
}

// hostMounts are the mount points of the host under dir.
func hostMounts(dir string) []string {
	b, err := os.ReadFile("/proc/self/mounts")
	Expect(err).NotTo(HaveOccurred())
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 2 && strings.HasPrefix(f[1], dir) {
			out = append(out, f[1])
		}
	}
	return out
}

var _ = Describe("Volumes", volumesLabel, Ordered, func() {
	var (
		lab *harness.Lab
		cs  kubernetes.Interface
	)
	BeforeAll(func(ctx SpecContext) {
		lab = bootLab(ctx, 2)
		cs = clientAs(lab, pki.Admin)
	}, NodeTimeout(2*time.Minute))

	It("provisions a claim without a class from the default StorageClass on its first pod's node, keeps its data across pods, and removes it with the claim", func(ctx SpecContext) {
		claims := cs.CoreV1().PersistentVolumeClaims("default")
		_, err := claims.Create(ctx, &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: "data"},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) { claims.Delete(ctx, "data", metav1.DeleteOptions{}) })

		By("the claim gets the class standard and waits for its first pod")
		claim, err := claims.Get(ctx, "data", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(claim.Spec.StorageClassName).To(Equal(ptr.To(harness.StorageClassName)))
		Consistently(func() corev1.PersistentVolumeClaimPhase {
			c, _ := claims.Get(ctx, "data", metav1.GetOptions{})
			return c.Status.Phase
		}).WithContext(ctx).WithTimeout(2 * time.Second).Should(Equal(corev1.ClaimPending))

		By("a pod using it is placed, the claim bound to a volume on the pod's node, and the pod writes a file")
		create(ctx, cs, withVolume("writer", claimVolume("data"), "/data"))
		writer := waitFor(ctx, cs, "writer", time.Minute, beReady)
		claim, err = claims.Get(ctx, "data", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(claim.Status.Phase).To(Equal(corev1.ClaimBound))
		pv, err := cs.CoreV1().PersistentVolumes().Get(ctx, claim.Spec.VolumeName, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(pv.Spec.NodeAffinity.Required.NodeSelectorTerms[0].MatchExpressions[0].Values).To(Equal([]string{writer.Spec.NodeName}))
		dir := pv.Spec.HostPath.Path
		Expect(dir).To(Equal(filepath.Join(lab.StateDir(), "nodes", writer.Spec.NodeName, "local-path", pv.Name)))
		_, err = execIn(ctx, lab, cs, "writer", "/testapp", "write", "/data/hello", "kept")
		Expect(err).NotTo(HaveOccurred())

		By("a new pod of the claim lands on the same node and reads the file back")
		deletePod(ctx, cs, "writer")
		create(ctx, cs, withVolume("reader", claimVolume("data"), "/data"))
		reader := waitFor(ctx, cs, "reader", time.Minute, beReady)
		Expect(reader.Spec.NodeName).To(Equal(writer.Spec.NodeName))
		out, err := execIn(ctx, lab, cs, "reader", "/testapp", "cat", "/data/hello")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal("kept"))

		By("deleting the claim removes the volume and its folder")
		deletePod(ctx, cs, "reader")
		Expect(claims.Delete(ctx, "data", metav1.DeleteOptions{})).To(Succeed())
		Eventually(func() bool {
			_, err := cs.CoreV1().PersistentVolumes().Get(ctx, pv.Name, metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		}).WithContext(ctx).WithTimeout(30*time.Second).Should(BeTrue(), "volume %s not removed", pv.Name)
		Expect(dir).NotTo(BeADirectory())
	}, SpecTimeout(3*time.Minute))

	It("leaves a pod whose claim does not exist unschedulable with the scheduler's message", func(ctx SpecContext) {
		create(ctx, cs, withVolume("orphan", claimVolume("nope"), "/data"))
		waitFor(ctx, cs, "orphan", 30*time.Second, func(g Gomega, p *corev1.Pod) {
			g.Expect(p.Status.Conditions).To(ContainElement(And(
				HaveField("Type", corev1.PodScheduled), HaveField("Reason", corev1.PodReasonUnschedulable),
				HaveField("Message", `0/2 nodes are available: persistentvolumeclaim "nope" not found. `+
					`preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.`))))
		})
	}, SpecTimeout(time.Minute))

	It("mounts an emptyDir of medium Memory as a tmpfs of its sizeLimit, gone from the host with the pod", func(ctx SpecContext) {
		create(ctx, cs, withVolume("memory", corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			Medium: corev1.StorageMediumMemory, SizeLimit: ptr.To(resource.MustParse("16Mi"))}}, "/cache"))
		pod := waitFor(ctx, cs, "memory", time.Minute, beReady)
		out, err := execIn(ctx, lab, cs, "memory", "/testapp", "cat", "/proc/mounts")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(MatchRegexp(`(?m)^tmpfs /cache tmpfs \S*size=16384k`))
		podDir := filepath.Join(lab.StateDir(), "nodes", pod.Spec.NodeName, "state", "pods", string(pod.UID))
		Expect(hostMounts(podDir)).To(HaveLen(1))

		deletePod(ctx, cs, "memory")
		Eventually(func() []string { return hostMounts(podDir) }).WithContext(ctx).WithTimeout(30 * time.Second).Should(BeEmpty())
	}, SpecTimeout(2*time.Minute))

	It("mounts an image volume read-only from the image's files, and leaves no mount behind when the pod goes", func(ctx SpecContext) {
		create(ctx, cs, withVolume("imagevol", corev1.VolumeSource{Image: &corev1.ImageVolumeSource{
			Reference: testImage, PullPolicy: corev1.PullIfNotPresent}}, "/image"))
		pod := waitFor(ctx, cs, "imagevol", time.Minute, beReady)

		By("the image's program runs from the volume, which is mounted read-only")
		out, err := execIn(ctx, lab, cs, "imagevol", "/image/testapp", "cat", "/proc/mounts")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(MatchRegexp(`(?m)^\S+ /image \S+ ro[,\s]`))
		_, err = execIn(ctx, lab, cs, "imagevol", "/testapp", "write", "/image/new", "x")
		Expect(err).To(MatchError(ContainSubstring("read-only file system")))

		By("the kubelet mounted it under the pod's folder only, and unmounts it with the pod")
		podDir := filepath.Join(lab.StateDir(), "nodes", pod.Spec.NodeName, "state", "pods", string(pod.UID))
		Expect(hostMounts(podDir)).To(ConsistOf(filepath.Join(podDir, "volumes", "image", "vol")))
		deletePod(ctx, cs, "imagevol")
		Eventually(func() []string { return hostMounts(podDir) }).WithContext(ctx).WithTimeout(30 * time.Second).Should(BeEmpty())
	}, SpecTimeout(2*time.Minute))

	It("keeps a pod whose image volume cannot be pulled waiting in ErrImagePull, then ImagePullBackOff", func(ctx SpecContext) {
		create(ctx, cs, withVolume("noimage", corev1.VolumeSource{Image: &corev1.ImageVolumeSource{
			Reference: "kinns.local/absent:1", PullPolicy: corev1.PullIfNotPresent}}, "/image"))
		// ErrImagePull lasts only until the back-off starts: the status may
		// skip it, the events and the back-off's message do not.
		waitFor(ctx, cs, "noimage", time.Minute, func(g Gomega, p *corev1.Pod) {
			g.Expect(p.Status.Phase).To(Equal(corev1.PodPending))
			g.Expect(p.Status.ContainerStatuses).To(ContainElement(HaveField("State.Waiting", And(
				HaveField("Reason", "ImagePullBackOff"),
				HaveField("Message", ContainSubstring(`Back-off pulling image "kinns.local/absent:1": ErrImagePull: `)),
			))))
		})
		Expect(eventNotes(ctx, cs, "noimage", "Failed")).To(ContainElements(
			ContainSubstring(`Failed to pull image "kinns.local/absent:1"`), "Error: ErrImagePull", "Error: ImagePullBackOff"))
	}, SpecTimeout(2*time.Minute))

	It("checks a hostPath's type as the kubelet does: DirectoryOrCreate makes the folder, File on a missing path fails with upstream's message", func(ctx SpecContext) {
		root := GinkgoT().TempDir()
		made := filepath.Join(root, "made")
		create(ctx, cs, withVolume("host-dir", corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
			Path: made, Type: ptr.To(corev1.HostPathDirectoryOrCreate)}}, "/host"))
		waitFor(ctx, cs, "host-dir", time.Minute, beReady)
		Expect(made).To(BeADirectory())

		missing := filepath.Join(root, "missing")
		create(ctx, cs, withVolume("host-file", corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
			Path: missing, Type: ptr.To(corev1.HostPathFile)}}, "/host"))
		want := `MountVolume.SetUp failed for volume "vol" : hostPath type check failed, ` + missing +
			` is not a file, unable to determine its type: path "` + missing + `" does not exist`
		Eventually(func() []string { return eventNotes(ctx, cs, "host-file", "FailedMount") }).
			WithContext(ctx).WithTimeout(30 * time.Second).Should(ContainElement(want))
		waitFor(ctx, cs, "host-file", 5*time.Second, func(g Gomega, p *corev1.Pod) {
			g.Expect(p.Status.ContainerStatuses).To(HaveLen(1))
			g.Expect(p.Status.ContainerStatuses[0].State.Waiting).NotTo(BeNil())
			g.Expect(p.Status.ContainerStatuses[0].State.Waiting.Reason).To(Equal("ContainerCreating"))
		})
	}, SpecTimeout(2*time.Minute))
})
