package scheduler

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
)

// podTerm is a parsed pod (anti-)affinity term: which pods it selects and
// over which topology.
type podTerm struct {
	selector    labels.Selector
	namespaces  sets.Set[string]
	nsSelector  labels.Selector // nil when the term has none
	topologyKey string
	weight      int64 // preferred terms only
}

// podAffinity holds the parsed pod affinity and anti-affinity of one pod.
type podAffinity struct {
	required      []podTerm
	requiredAnti  []podTerm
	preferred     []podTerm
	preferredAnti []podTerm
}

// namespaceLabels gives the labels of a namespace, for namespaceSelector.
type namespaceLabels func(namespace string) labels.Set

// parseAffinity parses pod's pod affinity and anti-affinity; it returns nil
// when the pod has neither.
func parseAffinity(pod *v1.Pod) (*podAffinity, error) {
	a := pod.Spec.Affinity
	if a == nil || (a.PodAffinity == nil && a.PodAntiAffinity == nil) {
		return nil, nil
	}
	var out podAffinity
	var err error
	if pa := a.PodAffinity; pa != nil {
		if out.required, err = parseTerms(pod, pa.RequiredDuringSchedulingIgnoredDuringExecution); err != nil {
			return nil, fmt.Errorf("parse required pod affinity: %w", err)
		}
		if out.preferred, err = parseWeighted(pod, pa.PreferredDuringSchedulingIgnoredDuringExecution); err != nil {
			return nil, fmt.Errorf("parse preferred pod affinity: %w", err)
		}
	}
	if pa := a.PodAntiAffinity; pa != nil {
		if out.requiredAnti, err = parseTerms(pod, pa.RequiredDuringSchedulingIgnoredDuringExecution); err != nil {
			return nil, fmt.Errorf("parse required pod anti-affinity: %w", err)
		}
		if out.preferredAnti, err = parseWeighted(pod, pa.PreferredDuringSchedulingIgnoredDuringExecution); err != nil {
			return nil, fmt.Errorf("parse preferred pod anti-affinity: %w", err)
		}
	}
	return &out, nil
}

func parseTerms(owner *v1.Pod, terms []v1.PodAffinityTerm) ([]podTerm, error) {
	out := make([]podTerm, 0, len(terms))
	for i := range terms {
		t, err := newPodTerm(owner, &terms[i], 0)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func parseWeighted(owner *v1.Pod, terms []v1.WeightedPodAffinityTerm) ([]podTerm, error) {
	out := make([]podTerm, 0, len(terms))
	for i := range terms {
		t, err := newPodTerm(owner, &terms[i].PodAffinityTerm, terms[i].Weight)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// newPodTerm parses one term. As in Kubernetes, a term naming neither
// namespaces nor a namespaceSelector applies to its owner's namespace, an
// empty namespaceSelector to every namespace, and a nil labelSelector selects
// no pod. matchLabelKeys are not read: the API server folds them into the
// labelSelector when the pod is created.
func newPodTerm(owner *v1.Pod, t *v1.PodAffinityTerm, weight int32) (podTerm, error) {
	sel, err := metav1.LabelSelectorAsSelector(t.LabelSelector)
	if err != nil {
		return podTerm{}, fmt.Errorf("label selector of topology %q: %w", t.TopologyKey, err)
	}
	term := podTerm{selector: sel, namespaces: sets.New(t.Namespaces...), topologyKey: t.TopologyKey, weight: int64(weight)}
	if t.NamespaceSelector != nil {
		if term.nsSelector, err = metav1.LabelSelectorAsSelector(t.NamespaceSelector); err != nil {
			return podTerm{}, fmt.Errorf("namespace selector of topology %q: %w", t.TopologyKey, err)
		}
	} else if len(t.Namespaces) == 0 {
		term.namespaces.Insert(owner.Namespace)
	}
	return term, nil
}

// matches tells whether the term selects pod.
func (t *podTerm) matches(pod *v1.Pod, nsLabels namespaceLabels) bool {
	inNamespace := t.namespaces.Has(pod.Namespace) ||
		(t.nsSelector != nil && t.nsSelector.Matches(nsLabels(pod.Namespace)))
	return inNamespace && t.selector.Matches(labels.Set(pod.Labels))
}

func matchesAll(terms []podTerm, pod *v1.Pod, nsLabels namespaceLabels) bool {
	for i := range terms {
		if !terms[i].matches(pod, nsLabels) {
			return false
		}
	}
	return true
}

// topoPair is one topology domain, e.g. kubernetes.io/hostname=node-1.
type topoPair struct{ key, value string }

// pairOf returns the domain of node for key, and false when the node does
// not carry the label (it is then in no domain of that topology).
func pairOf(node *v1.Node, key string) (topoPair, bool) {
	v, ok := node.Labels[key]
	return topoPair{key, v}, ok
}

// affinityState is what the pod affinity filter and score need to know
// about the whole cluster, computed once per decision.
type affinityState struct {
	// affinityCounts counts, per domain, the pods matching every required
	// affinity term of the incoming pod.
	affinityCounts map[topoPair]int64
	// selfMatch: the incoming pod matches its own required affinity, so the
	// first pod of a group may go anywhere its topology keys exist.
	selfMatch bool
	// antiCounts counts, per domain, pods matched by a required
	// anti-affinity term of the incoming pod.
	antiCounts map[topoPair]int64
	// existingAnti counts, per domain, existing pods whose required
	// anti-affinity selects the incoming pod.
	existingAnti map[topoPair]int64
	// preferred is the preferred (anti-)affinity score of each domain.
	preferred map[topoPair]int64
}

func newAffinityState() *affinityState {
	return &affinityState{
		affinityCounts: map[topoPair]int64{},
		antiCounts:     map[topoPair]int64{},
		existingAnti:   map[topoPair]int64{},
		preferred:      map[topoPair]int64{},
	}
}

// computeAffinity walks the bound pods once and fills the state for the
// incoming pod. Existing pods are only visited when something can match:
// the incoming pod has terms, or the existing pod has.
func computeAffinity(in *podInfo, snap *Snapshot) *affinityState {
	st := newAffinityState()
	if in.affinity != nil {
		st.selfMatch = matchesAll(in.affinity.required, in.pod, snap.namespaceLabels)
	}
	for _, n := range snap.nodes {
		if in.affinity != nil {
			for _, p := range n.pods {
				st.addIncomingTerms(in.affinity, p.pod, n.node, snap.namespaceLabels)
			}
		}
		for _, p := range n.withAffinity {
			st.addExistingTerms(p.affinity, in.pod, n.node, snap.namespaceLabels)
		}
	}
	return st
}

// addIncomingTerms records what the incoming pod's terms say about the
// existing pod bound to node.
func (st *affinityState) addIncomingTerms(a *podAffinity, existing *v1.Pod, node *v1.Node, ns namespaceLabels) {
	if len(a.required) > 0 && matchesAll(a.required, existing, ns) {
		for i := range a.required {
			addPair(st.affinityCounts, node, a.required[i].topologyKey, 1)
		}
	}
	for i := range a.requiredAnti {
		if a.requiredAnti[i].matches(existing, ns) {
			addPair(st.antiCounts, node, a.requiredAnti[i].topologyKey, 1)
		}
	}
	addPreferred(st.preferred, a.preferred, existing, node, ns, 1)
	addPreferred(st.preferred, a.preferredAnti, existing, node, ns, -1)
}

// addExistingTerms records what the terms of an existing pod bound to node
// say about the incoming pod. Its required affinity counts as a preference
// of weight 1, as kube-scheduler's default hardPodAffinityWeight does.
func (st *affinityState) addExistingTerms(a *podAffinity, incoming *v1.Pod, node *v1.Node, ns namespaceLabels) {
	for i := range a.requiredAnti {
		if a.requiredAnti[i].matches(incoming, ns) {
			addPair(st.existingAnti, node, a.requiredAnti[i].topologyKey, 1)
		}
	}
	for i := range a.required {
		if a.required[i].matches(incoming, ns) {
			addPair(st.preferred, node, a.required[i].topologyKey, 1)
		}
	}
	addPreferred(st.preferred, a.preferred, incoming, node, ns, 1)
	addPreferred(st.preferred, a.preferredAnti, incoming, node, ns, -1)
}

func addPreferred(m map[topoPair]int64, terms []podTerm, pod *v1.Pod, node *v1.Node, ns namespaceLabels, sign int64) {
	for i := range terms {
		if terms[i].matches(pod, ns) {
			addPair(m, node, terms[i].topologyKey, sign*terms[i].weight)
		}
	}
}

func addPair(m map[topoPair]int64, node *v1.Node, key string, v int64) {
	if p, ok := pairOf(node, key); ok {
		m[p] += v
	}
}

// affinityFits: every required affinity term finds a matching pod in the
// node's domain, or no pod matches anywhere yet and the pod matches itself.
// Either way the node must carry every topology key.
func (st *affinityState) affinityFits(a *podAffinity, node *v1.Node) bool {
	if a == nil || len(a.required) == 0 {
		return true
	}
	found := true
	for i := range a.required {
		p, ok := pairOf(node, a.required[i].topologyKey)
		if !ok {
			return false
		}
		if st.affinityCounts[p] <= 0 {
			found = false
		}
	}
	return found || (len(st.affinityCounts) == 0 && st.selfMatch)
}

// antiAffinityFits: no pod selected by the incoming pod's required
// anti-affinity shares a domain with node.
func (st *affinityState) antiAffinityFits(a *podAffinity, node *v1.Node) bool {
	if a == nil {
		return true
	}
	for i := range a.requiredAnti {
		if p, ok := pairOf(node, a.requiredAnti[i].topologyKey); ok && st.antiCounts[p] > 0 {
			return false
		}
	}
	return true
}

// existingAntiFits: no existing pod whose required anti-affinity selects the
// incoming pod shares a domain with node.
func (st *affinityState) existingAntiFits(node *v1.Node) bool {
	if len(st.existingAnti) == 0 {
		return true
	}
	for k, v := range node.Labels {
		if st.existingAnti[topoPair{k, v}] > 0 {
			return false
		}
	}
	return true
}

// preferredScore is the raw preferred (anti-)affinity score of node: the
// sum over the domains node belongs to.
func (st *affinityState) preferredScore(node *v1.Node) int64 {
	if len(st.preferred) == 0 {
		return 0
	}
	var s int64
	for k, v := range node.Labels {
		s += st.preferred[topoPair{k, v}]
	}
	return s
}
