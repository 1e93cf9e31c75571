package statefulset

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/utils/ptr"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	"github.com/kinns/kinns/controlplane/controllers/internal/fakeapi"
)

// TestOrderedReadyStartsWithTheFirstReplica: with OrderedReady, only web-0
// is created while it is not Ready, with its stable hostname and the
// Service's subdomain.
func TestOrderedReadyStartsWithTheFirstReplica(t *testing.T) {
	client := fakeapi.Client()
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(deps.Deps{Client: client, Factory: factory}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fakeapi.Run(t, factory, c, 2)
	labels := map[string]string{"app": "web"}
	set := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "sts-uid"},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](3), ServiceName: "web", RevisionHistoryLimit: ptr.To[int32](10), // the API server defaults it
			PodManagementPolicy: appsv1.OrderedReadyPodManagement,
			Selector:            &metav1.LabelSelector{MatchLabels: labels},
			UpdateStrategy:      appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "kinns.local/testapp:latest"}}}}},
	}
	if _, err := client.AppsV1().StatefulSets("default").Create(t.Context(), set, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pods []corev1.Pod
	fakeapi.Eventually(t, "web-0", func(ctx context.Context) bool {
		l, _ := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		pods = l.Items
		return len(pods) > 0
	})
	p := pods[0]
	if len(pods) != 1 || p.Name != "web-0" || p.Spec.Hostname != "web-0" || p.Spec.Subdomain != "web" {
		t.Fatalf("got %d pods, first %s (hostname %q, subdomain %q): want only web-0, hostname web-0, subdomain web",
			len(pods), p.Name, p.Spec.Hostname, p.Spec.Subdomain)
	}
}
