package scheduler_test

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kinns/kinns/controlplane/scheduler"
)

func exampleNode(name string, taints ...v1.Taint) *v1.Node {
	return &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{v1.LabelHostname: name}},
		Spec:       v1.NodeSpec{Taints: taints},
		Status: v1.NodeStatus{
			Allocatable: v1.ResourceList{
				v1.ResourceCPU:    resource.MustParse("2"),
				v1.ResourceMemory: resource.MustParse("4Gi"),
				v1.ResourcePods:   resource.MustParse("110"),
			},
			Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}},
		},
	}
}

func examplePod(name, cpu string) *v1.Pod {
	yes := true
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", OwnerReferences: []metav1.OwnerReference{
			{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", UID: "rs-web", Controller: &yes},
		}},
		Spec: v1.PodSpec{Containers: []v1.Container{{Name: "app", Resources: v1.ResourceRequirements{
			Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu)},
		}}}},
	}
}

// Four replicas spread over two workers and skip the tainted control-plane
// node; a pod asking for more cpu than any worker has is refused with
// kube-scheduler's message.
func Example() {
	controlPlane := v1.Taint{Key: "node-role.kubernetes.io/control-plane", Effect: v1.TaintEffectNoSchedule}
	nodes := []*v1.Node{exampleNode("cp-1", controlPlane), exampleNode("node-1"), exampleNode("node-2")}
	snap := scheduler.NewSnapshot(nodes, nil)

	for _, name := range []string{"web-a", "web-b", "web-c", "web-d"} {
		pod := examplePod(name, "250m")
		d, err := scheduler.Schedule(pod, snap)
		if err != nil {
			fmt.Println(err)
			return
		}
		if _, err := snap.Assume(pod, d.Node); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(name, "->", d.Node)
	}

	_, err := scheduler.Schedule(examplePod("huge", "3"), snap)
	fmt.Println(err)
	// Output:
	// web-a -> node-1
	// web-b -> node-2
	// web-c -> node-1
	// web-d -> node-2
	// 0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu.
}
