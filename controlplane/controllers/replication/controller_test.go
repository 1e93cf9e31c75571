package replication

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/utils/ptr"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	"github.com/kinns/kinns/controlplane/controllers/internal/fakeapi"
)

func TestReplicationControllerGetsItsPods(t *testing.T) {
	client := fakeapi.Client()
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(deps.Deps{Client: client, Factory: factory}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fakeapi.Run(t, factory, c, 2)
	labels := map[string]string{"app": "web"}
	rc := &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "rc-uid"},
		Spec: corev1.ReplicationControllerSpec{Replicas: ptr.To[int32](2), Selector: labels,
			Template: &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "kinns.local/testapp:latest"}}}}},
	}
	if _, err := client.CoreV1().ReplicationControllers("default").Create(t.Context(), rc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	fakeapi.Eventually(t, "two pods owned by the ReplicationController", func(ctx context.Context) bool {
		pods, _ := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		owned := 0
		for _, p := range pods.Items {
			if ref := metav1.GetControllerOf(&p); ref != nil && ref.Kind == "ReplicationController" && ref.Name == "web" {
				owned++
			}
		}
		return owned == 2
	})
}
