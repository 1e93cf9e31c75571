package replicaset

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// controllerKind is what pods name in their controller reference.
var controllerKind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")

// isActive reports whether a pod counts toward spec.replicas: it has not
// finished and is not being deleted.
func isActive(p *corev1.Pod) bool {
	return p.Status.Phase != corev1.PodSucceeded &&
		p.Status.Phase != corev1.PodFailed &&
		p.DeletionTimestamp == nil
}

// podReadySince returns whether the Ready condition is True and since when.
func podReadySince(p *corev1.Pod) (bool, time.Time) {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue, c.LastTransitionTime.Time
		}
	}
	return false, time.Time{}
}

// isAvailable reports whether a pod has been ready for at least
// minReadySeconds at now.
func isAvailable(p *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	ready, since := podReadySince(p)
	if !ready {
		return false
	}
	if minReadySeconds == 0 {
		return true
	}
	if since.IsZero() {
		return false
	}
	return since.Add(time.Duration(minReadySeconds) * time.Second).Before(now)
}

// newPod builds the pod a ReplicaSet creates from its template, owned by it.
func newPod(rs *appsv1.ReplicaSet) *corev1.Pod {
	t := rs.Spec.Template.DeepCopy()
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    podPrefix(rs.Name),
			Namespace:       rs.Namespace,
			Labels:          t.Labels,
			Annotations:     t.Annotations,
			Finalizers:      t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(rs, controllerKind)},
		},
		Spec: t.Spec,
	}
}

// podPrefix is "<rs>-" unless that is too long to be a name prefix, in
// which case the API server truncates the name itself.
func podPrefix(name string) string {
	prefix := name + "-"
	if len(prefix) > 253-5 { // room for the generated suffix
		return name
	}
	return prefix
}

// podKey is the namespace/name key used by the expectations.
func podKey(p *corev1.Pod) string {
	return p.Namespace + "/" + p.Name
}

// selectorOf converts a ReplicaSet's selector; a malformed one (the API
// server rejects those) yields an error, an empty one selects nothing.
func selectorOf(rs *appsv1.ReplicaSet) (labels.Selector, error) {
	sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("selector of replicaset %s/%s: %w", rs.Namespace, rs.Name, err)
	}
	if sel.Empty() {
		return labels.Nothing(), nil
	}
	return sel, nil
}
