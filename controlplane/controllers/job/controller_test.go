package job

import (
	"context"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/utils/ptr"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	"github.com/kinns/kinns/controlplane/controllers/internal/fakeapi"
)

// TestJobRunsParallelismPods: a Job of 4 completions, 2 at a time, gets 2
// pods with the Job's restart policy.
func TestJobRunsParallelismPods(t *testing.T) {
	client := fakeapi.Client()
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(deps.Deps{Client: client, Factory: factory}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fakeapi.Run(t, factory, c, 2)
	labels := map[string]string{"batch.kubernetes.io/controller-uid": "job-uid"}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "default", UID: "job-uid"},
		Spec: batchv1.JobSpec{Completions: ptr.To[int32](4), Parallelism: ptr.To[int32](2), BackoffLimit: ptr.To[int32](6),
			CompletionMode: ptr.To(batchv1.NonIndexedCompletion), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{Name: "app", Image: "kinns.local/testapp:latest"}}}}},
	}
	if _, err := client.BatchV1().Jobs("default").Create(t.Context(), job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	fakeapi.Eventually(t, "two pods of the Job", func(ctx context.Context) bool {
		l, _ := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if len(l.Items) != 2 {
			return false
		}
		for _, p := range l.Items {
			if p.Spec.RestartPolicy != corev1.RestartPolicyNever || metav1.GetControllerOf(&p).Name != "pi" {
				t.Fatalf("pod %s: restart policy %s, owner %v", p.Name, p.Spec.RestartPolicy, p.OwnerReferences)
			}
		}
		return true
	})
}
