package specs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/kinns/kinns/harness"
)

const testImage = "kinns.local/testapp:latest"

// testPod is a pod of the test image; change it before creating it.
func testPod(name string, args ...string) *corev1.Pod {
	grace := int64(2)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{
				Name: "app", Image: testImage, Args: args,
				Env: []corev1.EnvVar{{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{
					FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
			}},
		},
	}
}

// create makes a pod in default and deletes it after the spec.
func create(ctx context.Context, cs kubernetes.Interface, p *corev1.Pod) *corev1.Pod {
	GinkgoHelper()
	got, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx SpecContext) {
		cs.CoreV1().Pods("default").Delete(ctx, p.Name, metav1.DeleteOptions{})
	})
	return got
}

// waitFor waits until the pod satisfies cond and returns it.
func waitFor(ctx context.Context, cs kubernetes.Interface, name string, timeout time.Duration, cond func(g Gomega, p *corev1.Pod)) *corev1.Pod {
	GinkgoHelper()
	var pod *corev1.Pod
	Eventually(func(g Gomega) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		cond(g, p)
		pod = p
	}).WithContext(ctx).WithTimeout(timeout).WithPolling(200 * time.Millisecond).Should(Succeed())
	return pod
}

func beReady(g Gomega, p *corev1.Pod) {
	g.Expect(p.Status.Phase).To(Equal(corev1.PodRunning), "pod %s: %+v", p.Name, p.Status)
	g.Expect(podReady(p)).To(BeTrue(), "pod %s not Ready: %+v", p.Name, p.Status.Conditions)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// attachTo joins the pod's container "app" through the API server and the
// kubelet, as kubectl attach -i (with tty, -it) does: it copies input to
// the container's stdin and returns what the container wrote until the
// session ended.
func attachTo(ctx context.Context, lab *harness.Lab, cs kubernetes.Interface, pod string, input io.Reader, tty bool) (string, error) {
	rc, err := lab.RESTConfig()
	if err != nil {
		return "", err
	}
	req := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name(pod).SubResource("attach").
		VersionedParams(&corev1.PodAttachOptions{Container: "app", Stdin: true, Stdout: true, Stderr: !tty, TTY: tty}, scheme.ParameterCodec)
	ex, err := remotecommand.NewSPDYExecutor(rc, "POST", req.URL())
	if err != nil {
		return "", err
	}
	var out, errb bytes.Buffer
	opts := remotecommand.StreamOptions{Stdin: input, Stdout: &out, Tty: tty}
	if !tty {
		opts.Stderr = &errb
	}
	if err := ex.StreamWithContext(ctx, opts); err != nil {
		return out.String(), fmt.Errorf("attach to %s: %w (stderr: %s)", pod, err, errb.String())
	}
	return out.String(), nil
}

// execIn runs cmd in the pod's container through the API server and the kubelet,
// as kubectl exec does, and returns stdout.
func execIn(ctx context.Context, lab *harness.Lab, cs kubernetes.Interface, pod string, cmd ...string) (string, error) {
	return execInContainer(ctx, lab, cs, pod, "app", cmd...)
}

// execInContainer is execIn in the pod's container of that name.
func execInContainer(ctx context.Context, lab *harness.Lab, cs kubernetes.Interface, pod, container string, cmd ...string) (string, error) {
	rc, err := lab.RESTConfig()
	if err != nil {
		return "", err
	}
	req := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: cmd, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ex, err := remotecommand.NewSPDYExecutor(rc, "POST", req.URL())
	if err != nil {
		return "", err
	}
	var out, errb bytes.Buffer
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: &errb})
	if err != nil {
		return out.String(), fmt.Errorf("exec %v in %s: %w (stderr: %s)", cmd, pod, err, errb.String())
	}
	return out.String(), nil
}
