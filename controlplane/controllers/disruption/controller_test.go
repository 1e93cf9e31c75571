package disruption

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	"github.com/kinns/kinns/controlplane/controllers/internal/fakeapi"
)

func readyPod(name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "web"}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
}

// TestBudgetStatusCountsHealthyPods: a budget of minAvailable 1 over two
// ready pods allows one disruption.
func TestBudgetStatusCountsHealthyPods(t *testing.T) {
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Generation: 1},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &intstr.IntOrString{IntVal: 1},
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}
	client := fakeapi.Client(pdb, readyPod("web-a"), readyPod("web-b"))
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(deps.Deps{Client: client, Factory: factory}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fakeapi.Run(t, factory, c, Workers)
	fakeapi.Eventually(t, "the budget's status", func(ctx context.Context) bool {
		got, _ := client.PolicyV1().PodDisruptionBudgets("default").Get(ctx, "web", metav1.GetOptions{})
		s := got.Status
		return s.ExpectedPods == 2 && s.CurrentHealthy == 2 && s.DesiredHealthy == 1 && s.DisruptionsAllowed == 1
	})
}
