package scheduler

import (
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Builders for test objects: a node or pod with options applied in order.

type nodeOpt func(*v1.Node)
type podOpt func(*v1.Pod)

// node returns a Ready node with the kubernetes.io/hostname label and the
// given allocatable cpu, memory and pod count.
func node(name, cpu, mem string, pods int64, opts ...nodeOpt) *v1.Node {
	n := &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{v1.LabelHostname: name}},
		Status: v1.NodeStatus{
			Allocatable: v1.ResourceList{
				v1.ResourceCPU:    resource.MustParse(cpu),
				v1.ResourceMemory: resource.MustParse(mem),
				v1.ResourcePods:   *resource.NewQuantity(pods, resource.DecimalSI),
			},
			Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}},
		},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

func withLabel(k, v string) nodeOpt { return func(n *v1.Node) { n.Labels[k] = v } }

func withTaint(k, v string, e v1.TaintEffect) nodeOpt {
	return func(n *v1.Node) { n.Spec.Taints = append(n.Spec.Taints, v1.Taint{Key: k, Value: v, Effect: e}) }
}

func withReady(s v1.ConditionStatus) nodeOpt {
	return func(n *v1.Node) { n.Status.Conditions[0].Status = s }
}

func withoutConditions() nodeOpt { return func(n *v1.Node) { n.Status.Conditions = nil } }

func cordoned() nodeOpt { return func(n *v1.Node) { n.Spec.Unschedulable = true } }

func withAllocatable(name v1.ResourceName, q string) nodeOpt {
	return func(n *v1.Node) { n.Status.Allocatable[name] = resource.MustParse(q) }
}

// pod returns a pod in namespace "default" with one container requesting
// cpu and mem ("" for no request).
func pod(name, cpu, mem string, opts ...podOpt) *v1.Pod {
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "c", Resources: v1.ResourceRequirements{Requests: requests(cpu, mem)}}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func requests(cpu, mem string) v1.ResourceList {
	rl := v1.ResourceList{}
	if cpu != "" {
		rl[v1.ResourceCPU] = resource.MustParse(cpu)
	}
	if mem != "" {
		rl[v1.ResourceMemory] = resource.MustParse(mem)
	}
	return rl
}

func on(node string) podOpt { return func(p *v1.Pod) { p.Spec.NodeName = node } }

func inNamespace(ns string) podOpt { return func(p *v1.Pod) { p.Namespace = ns } }

func labelled(kv ...string) podOpt {
	return func(p *v1.Pod) {
		if p.Labels == nil {
			p.Labels = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			p.Labels[kv[i]] = kv[i+1]
		}
	}
}

func deleting() podOpt {
	return func(p *v1.Pod) { now := metav1.Unix(1000, 0); p.DeletionTimestamp = &now }
}

func phase(ph v1.PodPhase) podOpt { return func(p *v1.Pod) { p.Status.Phase = ph } }

func ownedBy(kind, name string) podOpt {
	return func(p *v1.Pod) {
		yes := true
		p.OwnerReferences = append(p.OwnerReferences, metav1.OwnerReference{
			APIVersion: "apps/v1", Kind: kind, Name: name, UID: types.UID("owner-" + name), Controller: &yes,
		})
	}
}

func tolerate(key string, op v1.TolerationOperator, value string, e v1.TaintEffect) podOpt {
	return func(p *v1.Pod) {
		p.Spec.Tolerations = append(p.Spec.Tolerations, v1.Toleration{Key: key, Operator: op, Value: value, Effect: e})
	}
}

func nodeSelector(kv ...string) podOpt {
	return func(p *v1.Pod) {
		p.Spec.NodeSelector = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			p.Spec.NodeSelector[kv[i]] = kv[i+1]
		}
	}
}

func affinity(p *v1.Pod) *v1.Affinity {
	if p.Spec.Affinity == nil {
		p.Spec.Affinity = &v1.Affinity{}
	}
	return p.Spec.Affinity
}

func requiredNodeTerms(terms ...v1.NodeSelectorTerm) podOpt {
	return func(p *v1.Pod) {
		affinity(p).NodeAffinity = &v1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{NodeSelectorTerms: terms},
		}
	}
}

func preferredNode(weight int32, term v1.NodeSelectorTerm) podOpt {
	return func(p *v1.Pod) {
		a := affinity(p)
		if a.NodeAffinity == nil {
			a.NodeAffinity = &v1.NodeAffinity{}
		}
		a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(
			a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
			v1.PreferredSchedulingTerm{Weight: weight, Preference: term})
	}
}

func labelTerm(key string, op v1.NodeSelectorOperator, values ...string) v1.NodeSelectorTerm {
	return v1.NodeSelectorTerm{MatchExpressions: []v1.NodeSelectorRequirement{{Key: key, Operator: op, Values: values}}}
}

func nameTerm(names ...string) v1.NodeSelectorTerm {
	return v1.NodeSelectorTerm{MatchFields: []v1.NodeSelectorRequirement{{Key: "metadata.name", Operator: v1.NodeSelectorOpIn, Values: names}}}
}

// hostTerm selects pods labelled k=v over the hostname topology.
func hostTerm(k, v string) v1.PodAffinityTerm {
	return v1.PodAffinityTerm{
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{k: v}},
		TopologyKey:   v1.LabelHostname,
	}
}

func requiredPodAntiAffinity(terms ...v1.PodAffinityTerm) podOpt {
	return func(p *v1.Pod) {
		a := affinity(p)
		if a.PodAntiAffinity == nil {
			a.PodAntiAffinity = &v1.PodAntiAffinity{}
		}
		a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution = append(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution, terms...)
	}
}

func requiredPodAffinity(terms ...v1.PodAffinityTerm) podOpt {
	return func(p *v1.Pod) {
		a := affinity(p)
		if a.PodAffinity == nil {
			a.PodAffinity = &v1.PodAffinity{}
		}
		a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution = append(a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution, terms...)
	}
}

func preferredPodAffinity(weight int32, t v1.PodAffinityTerm) podOpt {
	return func(p *v1.Pod) {
		a := affinity(p)
		if a.PodAffinity == nil {
			a.PodAffinity = &v1.PodAffinity{}
		}
		a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
			v1.WeightedPodAffinityTerm{Weight: weight, PodAffinityTerm: t})
	}
}

func preferredPodAntiAffinity(weight int32, t v1.PodAffinityTerm) podOpt {
	return func(p *v1.Pod) {
		a := affinity(p)
		if a.PodAntiAffinity == nil {
			a.PodAntiAffinity = &v1.PodAntiAffinity{}
		}
		a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
			v1.WeightedPodAffinityTerm{Weight: weight, PodAffinityTerm: t})
	}
}

func hostPortOn(port int32, proto v1.Protocol, ip string) podOpt {
	return func(p *v1.Pod) {
		c := &p.Spec.Containers[0]
		c.Ports = append(c.Ports, v1.ContainerPort{ContainerPort: port, HostPort: port, Protocol: proto, HostIP: ip})
	}
}

func initContainer(cpu, mem string, sidecar bool) podOpt {
	return func(p *v1.Pod) {
		c := v1.Container{Name: "init", Resources: v1.ResourceRequirements{Requests: requests(cpu, mem)}}
		if sidecar {
			always := v1.ContainerRestartPolicyAlways
			c.RestartPolicy = &always
		}
		p.Spec.InitContainers = append(p.Spec.InitContainers, c)
	}
}

func overhead(cpu, mem string) podOpt {
	return func(p *v1.Pod) { p.Spec.Overhead = requests(cpu, mem) }
}

func extended(name v1.ResourceName, q string) podOpt {
	return func(p *v1.Pod) { p.Spec.Containers[0].Resources.Requests[name] = resource.MustParse(q) }
}

// nodes3 is three equal Ready nodes: 4 cpu, 8Gi, 110 pods.
func nodes3(opts ...nodeOpt) []*v1.Node {
	return []*v1.Node{
		node("node-1", "4", "8Gi", 110, opts...),
		node("node-2", "4", "8Gi", 110, opts...),
		node("node-3", "4", "8Gi", 110, opts...),
	}
}
