package nodelifecycle

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func tolerate(key string, seconds *int64) corev1.Toleration {
	return corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: seconds}
}

func TestEvictionDeadline(t *testing.T) {
	unreachable := timedTaint{taint: unreachableNoExecute, since: t0}
	custom := timedTaint{taint: corev1.Taint{Key: "maintenance", Effect: corev1.TaintEffectNoExecute}, since: t0.Add(time.Minute)}
	cases := []struct {
		name   string
		tols   []corev1.Toleration
		taints []timedTaint
		want   time.Time
		ok     bool
	}{
		{"untolerated goes at once", nil, []timedTaint{unreachable}, t0, true},
		{"toleration seconds count from the taint", []corev1.Toleration{tolerate(corev1.TaintNodeUnreachable, ptr.To[int64](10))}, []timedTaint{unreachable}, t0.Add(10 * time.Second), true},
		{"shortest matching toleration wins", []corev1.Toleration{tolerate(corev1.TaintNodeUnreachable, ptr.To[int64](300)), tolerate("", ptr.To[int64](20))}, []timedTaint{unreachable}, t0.Add(20 * time.Second), true},
		{"unbounded toleration stays forever", []corev1.Toleration{tolerate(corev1.TaintNodeUnreachable, nil)}, []timedTaint{unreachable}, time.Time{}, false},
		{"one untolerated taint of two", []corev1.Toleration{tolerate(corev1.TaintNodeUnreachable, nil)}, []timedTaint{unreachable, custom}, custom.since, true},
		{"negative seconds mean now", []corev1.Toleration{tolerate(corev1.TaintNodeUnreachable, ptr.To[int64](-5))}, []timedTaint{unreachable}, t0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{Tolerations: tc.tols}}
			got, ok := evictionDeadline(pod, tc.taints)
			if ok != tc.ok || !got.Equal(tc.want) {
				t.Fatalf("got %v %v, want %v %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestEvictionDeadlineCountsFromPodCreation(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(t0.Add(time.Hour))},
		Spec: corev1.PodSpec{Tolerations: []corev1.Toleration{tolerate(corev1.TaintNodeUnreachable, ptr.To[int64](10))}}}
	got, _ := evictionDeadline(pod, []timedTaint{{taint: unreachableNoExecute, since: t0}})
	if !got.Equal(t0.Add(time.Hour + 10*time.Second)) {
		t.Fatalf("got %v", got)
	}
}

func TestReconcileTaints(t *testing.T) {
	user := corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}
	out, changed := reconcileTaints([]corev1.Taint{user, notReadyNoSchedule}, corev1.ConditionUnknown, true, t0)
	if !changed || len(out) != 3 || !hasTaint(out, user) || !hasTaint(out, unreachableNoExecute) || hasTaint(out, notReadyNoSchedule) {
		t.Fatalf("unknown: %+v", out)
	}
	for _, tt := range out {
		if tt.Effect == corev1.TaintEffectNoExecute && (tt.TimeAdded == nil || !tt.TimeAdded.Time.Equal(t0)) {
			t.Errorf("NoExecute taint without timeAdded: %+v", tt)
		}
	}
	again, changed := reconcileTaints(out, corev1.ConditionUnknown, true, t0.Add(time.Minute))
	if changed || len(again) != 3 {
		t.Fatalf("steady state changed: %+v", again)
	}
	healed, changed := reconcileTaints(out, corev1.ConditionTrue, false, t0)
	if !changed || len(healed) != 1 || healed[0].Key != "dedicated" {
		t.Fatalf("healed: %+v", healed)
	}
	frozen, changed := reconcileTaints([]corev1.Taint{user}, corev1.ConditionFalse, false, t0)
	if changed || len(frozen) != 1 {
		t.Fatalf("added while not allowed: %+v", frozen)
	}
}
