package ttlafterfinished

import (
	"context"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/utils/ptr"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	"github.com/kinns/kinns/controlplane/controllers/internal/fakeapi"
)

func TestFinishedJobWithZeroTTLIsDeleted(t *testing.T) {
	now := metav1.Now()
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "done", Namespace: "default", UID: "job-uid"},
		Spec:       batchv1.JobSpec{TTLSecondsAfterFinished: ptr.To[int32](0)},
		Status: batchv1.JobStatus{CompletionTime: &now, Conditions: []batchv1.JobCondition{
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now}}},
	}
	client := fakeapi.Client(job)
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(deps.Deps{Client: client, Factory: factory}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fakeapi.Run(t, factory, c, 1)
	fakeapi.Eventually(t, "the finished Job deleted", func(ctx context.Context) bool {
		_, err := client.BatchV1().Jobs("default").Get(ctx, "done", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
}
