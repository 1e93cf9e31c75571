package nodelifecycle

import (
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The taints this controller owns.
var (
	unreachableNoSchedule = corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule}
	unreachableNoExecute  = corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}
	notReadyNoSchedule    = corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}
	notReadyNoExecute     = corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}
	ownedTaints           = []corev1.Taint{unreachableNoSchedule, unreachableNoExecute, notReadyNoSchedule, notReadyNoExecute}
)

// wantedTaints are the owned taints a node with this Ready status should
// carry: unreachable for Unknown, not-ready for False, none for True.
func wantedTaints(ready corev1.ConditionStatus) []corev1.Taint {
	switch ready {
	case corev1.ConditionTrue:
		return nil
	case corev1.ConditionFalse:
		return []corev1.Taint{notReadyNoSchedule, notReadyNoExecute}
	default:
		return []corev1.Taint{unreachableNoSchedule, unreachableNoExecute}
	}
}

func owned(t corev1.Taint) bool {
	for _, o := range ownedTaints {
		if o.MatchTaint(&t) {
			return true
		}
	}
	return false
}

func hasTaint(ts []corev1.Taint, t corev1.Taint) bool {
	for i := range ts {
		if ts[i].MatchTaint(&t) {
			return true
		}
	}
	return false
}

// reconcileTaints returns the node's taints with the owned ones set for its
// Ready status: owned taints no longer wanted are dropped; wanted ones are
// added when mayAdd (NoExecute ones stamped with now). Taints of others are
// kept as they are. changed reports whether the list differs.
func reconcileTaints(cur []corev1.Taint, ready corev1.ConditionStatus, mayAdd bool, now time.Time) (out []corev1.Taint, changed bool) {
	want := wantedTaints(ready)
	for _, t := range cur {
		if owned(t) && !hasTaint(want, t) {
			changed = true
			continue
		}
		out = append(out, t)
	}
	if !mayAdd {
		return out, changed
	}
	for _, w := range want {
		if hasTaint(out, w) {
			continue
		}
		if w.Effect == corev1.TaintEffectNoExecute {
			w.TimeAdded = &metav1.Time{Time: now}
		}
		out = append(out, w)
		changed = true
	}
	return out, changed
}

// timedTaint is a NoExecute taint with the time it began to count.
type timedTaint struct {
	taint corev1.Taint
	since time.Time
}

// evictionDeadline says when pod must leave a node with these NoExecute
// taints: at once for a taint it does not tolerate; after the shortest
// tolerationSeconds of its tolerations matching a taint, counted from when
// the taint appeared or the pod was created, whichever is later; never when
// every matching toleration is unbounded. ok is false for never.
func evictionDeadline(pod *corev1.Pod, taints []timedTaint) (deadline time.Time, ok bool) {
	for _, tt := range taints {
		d, bounded := taintDeadline(pod, tt)
		if bounded && (!ok || d.Before(deadline)) {
			deadline, ok = d, true
		}
	}
	return deadline, ok
}

func taintDeadline(pod *corev1.Pod, tt timedTaint) (time.Time, bool) {
	start := tt.since
	if c := pod.CreationTimestamp.Time; c.After(start) {
		start = c
	}
	matched := false
	var shortest *int64
	for i := range pod.Spec.Tolerations {
		tol := &pod.Spec.Tolerations[i]
		if !tol.ToleratesTaint(logr.Discard(), &tt.taint, true) {
			continue
		}
		matched = true
		if s := tol.TolerationSeconds; s != nil && (shortest == nil || *s < *shortest) {
			shortest = s
		}
	}
	switch {
	case !matched:
		return tt.since, true
	case shortest == nil:
		return time.Time{}, false
	default:
		return start.Add(time.Duration(max(*shortest, 0)) * time.Second), true
	}
}
