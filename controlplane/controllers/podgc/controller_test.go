package podgc

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	"github.com/kinns/kinns/controlplane/controllers/internal/fakeapi"
)

// TestTerminatedPodsOverTheThresholdGo: with a threshold of 1, the older of
// two finished pods is deleted on the first pass.
func TestTerminatedPodsOverTheThresholdGo(t *testing.T) {
	old := metav1.NewTime(time.Now().Add(-time.Hour))
	pod := func(name string, created metav1.Time) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: created},
			Spec: corev1.PodSpec{NodeName: "node-1"}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded}}
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}}
	client := fakeapi.Client(node, pod("older", old), pod("newer", metav1.Now()))
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(deps.Deps{Client: client, Factory: factory}, Options{TerminatedPodThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	fakeapi.Run(t, factory, c, 1)
	fakeapi.Eventually(t, "the older finished pod deleted", func(ctx context.Context) bool {
		_, err := client.CoreV1().Pods("default").Get(ctx, "older", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	if _, err := client.CoreV1().Pods("default").Get(t.Context(), "newer", metav1.GetOptions{}); err != nil {
		t.Errorf("the newer pod: %v", err)
	}
}
