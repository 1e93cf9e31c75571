package deployment

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func progressingOf(f *fixture) *appsv1.DeploymentCondition {
	return getCondition(f.d().Status, appsv1.DeploymentProgressing)
}

func TestProgressDeadline(t *testing.T) {
	f := rolledOut(t, newDeployment(2, func(d *appsv1.Deployment) { d.Spec.ProgressDeadlineSeconds = ptr(int32(10)) }))
	if c := progressingOf(f); c == nil || c.Status != corev1.ConditionTrue || c.Reason != ReasonNewRSAvailable {
		t.Fatalf("Progressing after rollout = %+v, want True/%s", c, ReasonNewRSAvailable)
	}
	f.update(image("img:broken"))
	f.mustSync()
	if c := progressingOf(f); c == nil || c.Reason != ReasonNewRSCreated {
		t.Fatalf("Progressing after template change = %+v, want %s", c, ReasonNewRSCreated)
	}
	f.replicaSets(false) // the new pods never become ready
	f.mustSync()
	if c := progressingOf(f); c == nil || c.Status != corev1.ConditionTrue || c.Reason != ReasonRSUpdated {
		t.Fatalf("Progressing while pods appear = %+v, want True/%s", c, ReasonRSUpdated)
	}
	f.clock.Step(9 * time.Second)
	f.mustSync()
	if c := progressingOf(f); c.Reason != ReasonRSUpdated {
		t.Fatalf("Progressing before the deadline = %+v, want still %s", c, ReasonRSUpdated)
	}
	f.clock.Step(2 * time.Second)
	f.mustSync()
	c := progressingOf(f)
	if c == nil || c.Status != corev1.ConditionFalse || c.Reason != ReasonTimedOut {
		t.Fatalf("Progressing after the deadline = %+v, want False/%s", c, ReasonTimedOut)
	}
	if _, _, err := rolloutStatus(f.d()); err == nil {
		t.Error("kubectl rollout status would not fail after the deadline")
	}
	// The pods finally come up: the rollout recovers and completes.
	f.runToCompletion(func(string) {})
	if c := progressingOf(f); c.Status != corev1.ConditionTrue || c.Reason != ReasonNewRSAvailable {
		t.Fatalf("Progressing after recovery = %+v, want True/%s", c, ReasonNewRSAvailable)
	}
}

func TestAvailableCondition(t *testing.T) {
	// 4 replicas, maxUnavailable 25% = 1: available needs 3.
	tests := []struct {
		available  int32
		wantStatus corev1.ConditionStatus
		wantReason string
	}{
		{4, corev1.ConditionTrue, ReasonMinAvailable},
		{3, corev1.ConditionTrue, ReasonMinAvailable},
		{2, corev1.ConditionFalse, ReasonMinUnavailable},
		{0, corev1.ConditionFalse, ReasonMinUnavailable},
	}
	for _, tc := range tests {
		d := newDeployment(4)
		rs := newReplicaSet(d)
		rs.Spec.Replicas = ptr(int32(4))
		rs.Status = appsv1.ReplicaSetStatus{Replicas: 4, ReadyReplicas: tc.available, AvailableReplicas: tc.available}
		st := calculateStatus(d, []*appsv1.ReplicaSet{rs}, rs, t0)
		c := getCondition(st, appsv1.DeploymentAvailable)
		if c == nil || c.Status != tc.wantStatus || c.Reason != tc.wantReason {
			t.Errorf("available=%d: Available = %+v, want %s/%s", tc.available, c, tc.wantStatus, tc.wantReason)
		}
		if st.UnavailableReplicas != 4-tc.available {
			t.Errorf("available=%d: unavailableReplicas = %d, want %d", tc.available, st.UnavailableReplicas, 4-tc.available)
		}
	}
}

func TestFoundNewReplicaSet(t *testing.T) {
	d := newDeployment(2)
	rs := newReplicaSet(d)
	rs.UID = "rs-1"
	rs.Spec.Replicas = ptr(int32(2))
	rs.Annotations = map[string]string{RevisionAnnotation: "1", DesiredReplicasAnnotation: "2", MaxReplicasAnnotation: "3"}
	f := newFixture(t, d, rs)
	f.mustSync()
	if n := len(f.rss()); n != 1 {
		t.Fatalf("replicasets = %d, want the existing one only", n)
	}
	if c := progressingOf(f); c == nil || c.Reason != ReasonFoundNewRS {
		t.Fatalf("Progressing = %+v, want %s", c, ReasonFoundNewRS)
	}
	if got := f.d().Annotations[RevisionAnnotation]; got != "1" {
		t.Errorf("deployment revision = %q, want 1", got)
	}
}

func TestStatusCounts(t *testing.T) {
	d := newDeployment(5)
	d.Generation = 4
	oldRS := &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Replicas: ptr(int32(2))},
		Status: appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 2, AvailableReplicas: 2}}
	newRS := &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Replicas: ptr(int32(4))},
		Status: appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 2, AvailableReplicas: 1}}
	st := calculateStatus(d, []*appsv1.ReplicaSet{oldRS, newRS}, newRS, t0)
	got := [6]int64{st.ObservedGeneration, int64(st.Replicas), int64(st.UpdatedReplicas), int64(st.ReadyReplicas), int64(st.AvailableReplicas), int64(st.UnavailableReplicas)}
	want := [6]int64{4, 6, 3, 4, 3, 3}
	if got != want {
		t.Fatalf("observedGeneration, replicas, updated, ready, available, unavailable = %v, want %v", got, want)
	}
}

func TestRolloutStatusPredicate(t *testing.T) {
	good := appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3}
	tests := []struct {
		name    string
		change  func(*appsv1.DeploymentStatus)
		done    bool
		failure bool
	}{
		{"complete", func(*appsv1.DeploymentStatus) {}, true, false},
		{"spec not observed", func(s *appsv1.DeploymentStatus) { s.ObservedGeneration = 1 }, false, false},
		{"not all updated", func(s *appsv1.DeploymentStatus) { s.UpdatedReplicas = 2; s.Replicas = 2 }, false, false},
		{"old pods left", func(s *appsv1.DeploymentStatus) { s.Replicas = 4 }, false, false},
		{"not all available", func(s *appsv1.DeploymentStatus) { s.AvailableReplicas = 2 }, false, false},
		{"deadline exceeded", func(s *appsv1.DeploymentStatus) {
			s.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: ReasonTimedOut}}
		}, false, true},
	}
	for _, tc := range tests {
		d := newDeployment(3)
		d.Generation = 2
		d.Status = *good.DeepCopy()
		tc.change(&d.Status)
		_, done, err := rolloutStatus(d)
		if done != tc.done || (err != nil) != tc.failure {
			t.Errorf("%s: done=%v err=%v, want done=%v failure=%v", tc.name, done, err, tc.done, tc.failure)
		}
		// The controller's own notion of complete looks at counts only.
		if got := complete(d, &d.Status); !tc.failure && got != tc.done {
			t.Errorf("%s: controller's complete() = %v, kubectl's = %v", tc.name, got, tc.done)
		}
	}
	// During a real rollout kubectl must not report success early, and
	// must report it in the end.
	f := rolledOut(t, newDeployment(3))
	f.update(image("img:v2"))
	f.runToCompletion(func(step string) {
		d := f.d()
		if _, done, _ := rolloutStatus(d); !done {
			return
		}
		for _, rs := range f.rss() {
			if equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
				if rs.Status.AvailableReplicas != 3 {
					t.Fatalf("%s: rollout reported done with %d new pods available", step, rs.Status.AvailableReplicas)
				}
			} else if rs.Status.Replicas != 0 {
				t.Fatalf("%s: rollout reported done with old pods in %s", step, rs.Name)
			}
		}
	})
	d := f.d()
	if _, done, err := rolloutStatus(d); !done || err != nil {
		t.Fatalf("rollout status after completion: done=%v err=%v status=%+v", done, err, d.Status)
	}
}

func TestConditionTransitionTimeKept(t *testing.T) {
	st := appsv1.DeploymentStatus{}
	first := condition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonNewRSCreated, "a", t0)
	setCondition(&st, first)
	setCondition(&st, condition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonRSUpdated, "b", t0.Add(time.Minute)))
	c := getCondition(st, appsv1.DeploymentProgressing)
	if c.Reason != ReasonRSUpdated || !c.LastTransitionTime.Equal(ptr(metav1.NewTime(t0))) {
		t.Fatalf("condition = %+v, want reason %s with the first transition time", c, ReasonRSUpdated)
	}
	if len(st.Conditions) != 1 {
		t.Fatalf("conditions = %d, want 1", len(st.Conditions))
	}
}
