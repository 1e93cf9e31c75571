package daemonset

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

func node(name string, unschedulable bool) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{Unschedulable: unschedulable},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
}

// TestOnePodPerNodeEvenCordoned: a DaemonSet pod is made for every node,
// a cordoned one too (it tolerates node.kubernetes.io/unschedulable), and
// each is pinned to its node by a required affinity on metadata.name.
func TestOnePodPerNodeEvenCordoned(t *testing.T) {
	client := fakeapi.Client(node("node-1", false), node("node-2", true))
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(deps.Deps{Client: client, Factory: factory}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fakeapi.Run(t, factory, c, 2)
	labels := map[string]string{"app": "agent"}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "default", UID: "ds-uid"},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, RevisionHistoryLimit: ptr.To[int32](10), // the API server defaults it
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "kinns.local/testapp:latest"}}}}},
	}
	if _, err := client.AppsV1().DaemonSets("default").Create(t.Context(), ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pods []corev1.Pod
	fakeapi.Eventually(t, "a pod for each node", func(ctx context.Context) bool {
		l, _ := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		pods = l.Items
		return len(pods) == 2
	})
	nodes := map[string]bool{}
	for _, p := range pods {
		terms := p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
		f := terms[0].MatchFields[0]
		if f.Key != "metadata.name" || len(f.Values) != 1 {
			t.Fatalf("pod %s: affinity %+v, want matchFields metadata.name", p.Name, terms)
		}
		nodes[f.Values[0]] = true
	}
	if !nodes["node-1"] || !nodes["node-2"] {
		t.Errorf("pods pinned to %v, want node-1 and node-2", nodes)
	}
}
