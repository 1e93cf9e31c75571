package cronjob

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	"github.com/kinns/kinns/controlplane/controllers/internal/fakeapi"
)

// TestMissedScheduleMakesAJob: a CronJob created two minutes ago on a
// minute schedule is late, so the controller makes its Job at once (the
// upstream controller reads the real clock).
func TestMissedScheduleMakesAJob(t *testing.T) {
	client := fakeapi.Client()
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(deps.Deps{Client: client, Factory: factory}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fakeapi.Run(t, factory, c, 1)
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "tick", Namespace: "default", UID: "cj-uid",
			CreationTimestamp: metav1.NewTime(time.Now().Add(-2 * time.Minute))},
		Spec: batchv1.CronJobSpec{Schedule: "*/1 * * * *", ConcurrencyPolicy: batchv1.AllowConcurrent,
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyOnFailure,
					Containers: []corev1.Container{{Name: "app", Image: "kinns.local/testapp:latest"}}}}}}},
	}
	if _, err := client.BatchV1().CronJobs("default").Create(t.Context(), cj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	fakeapi.Eventually(t, "a Job of the CronJob", func(ctx context.Context) bool {
		l, _ := client.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{})
		return len(l.Items) > 0 && metav1.GetControllerOf(&l.Items[0]).Name == "tick"
	})
}
