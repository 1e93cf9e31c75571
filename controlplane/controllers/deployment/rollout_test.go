package deployment

import (
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestNewReplicaSetCreated(t *testing.T) {
	f := newFixture(t, newDeployment(3))
	f.mustSync()
	rss := f.rss()
	if len(rss) != 1 {
		t.Fatalf("replicasets = %d, want 1", len(rss))
	}
	rs := rss[0]
	d := f.d()
	hash := TemplateHash(&d.Spec.Template, nil)
	if rs.Name != "web-"+hash {
		t.Errorf("name = %s, want web-%s", rs.Name, hash)
	}
	for what, m := range map[string]map[string]string{
		"labels": rs.Labels, "selector": rs.Spec.Selector.MatchLabels, "template labels": rs.Spec.Template.Labels,
	} {
		if m[hashLabel] != hash || m["app"] != "web" {
			t.Errorf("%s = %v, want app=web and %s=%s", what, m, hashLabel, hash)
		}
	}
	if !metav1.IsControlledBy(rs, d) || !*metav1.GetControllerOf(rs).BlockOwnerDeletion {
		t.Errorf("owner references = %+v, want deployment web as controller", rs.OwnerReferences)
	}
	if got := rsReplicas(rs); got != 3 {
		t.Errorf("replicas = %d, want 3 (no old pods: the surge budget covers all)", got)
	}
	wantAnn := map[string]string{RevisionAnnotation: "1", DesiredReplicasAnnotation: "3", MaxReplicasAnnotation: "4"}
	for k, v := range wantAnn {
		if rs.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, rs.Annotations[k], v)
		}
	}
	if d.Annotations[RevisionAnnotation] != "1" {
		t.Errorf("deployment revision = %q, want 1", d.Annotations[RevisionAnnotation])
	}
	if c := getCondition(d.Status, appsv1.DeploymentProgressing); c == nil || c.Reason != ReasonNewRSCreated {
		t.Errorf("Progressing = %+v, want %s", c, ReasonNewRSCreated)
	}
	wantEvent := fmt.Sprintf("Normal ScalingReplicaSet Scaled up replica set %s from 0 to 3", rs.Name)
	if evs := f.events(); len(evs) == 0 || evs[0] != wantEvent {
		t.Errorf("events = %q, want %q", evs, wantEvent)
	}
	// A second sync finds the same set instead of creating another.
	f.mustSync()
	if n := len(f.rss()); n != 1 {
		t.Fatalf("replicasets after second sync = %d, want 1", n)
	}
}

func TestRollingUpdateStaysWithinBounds(t *testing.T) {
	tests := []struct {
		replicas           int32
		surge, unavailable intstr.IntOrString
		wantSurge, wantMU  int32
	}{
		{10, intstr.FromString("25%"), intstr.FromString("25%"), 3, 2},
		{4, intstr.FromString("25%"), intstr.FromString("25%"), 1, 1},
		{3, intstr.FromInt32(1), intstr.FromInt32(0), 1, 0},
		{3, intstr.FromInt32(0), intstr.FromInt32(1), 0, 1},
		{5, intstr.FromString("30%"), intstr.FromString("30%"), 2, 1},
		{1, intstr.FromInt32(0), intstr.FromInt32(0), 0, 1}, // both zero: 1 unavailable
		{2, intstr.FromString("100%"), intstr.FromInt32(0), 2, 0},
		{7, intstr.FromInt32(2), intstr.FromString("50%"), 2, 3},
	}
	for _, tc := range tests {
		name := fmt.Sprintf("replicas=%d surge=%s unavailable=%s", tc.replicas, tc.surge.String(), tc.unavailable.String())
		t.Run(name, func(t *testing.T) {
			f := rolledOut(t, newDeployment(tc.replicas, rolling(tc.surge, tc.unavailable)))
			d := f.d()
			if s, u := maxSurge(d), maxUnavailable(d); s != tc.wantSurge || u != tc.wantMU {
				t.Fatalf("resolved surge/unavailable = %d/%d, want %d/%d", s, u, tc.wantSurge, tc.wantMU)
			}
			first := f.current()
			f.update(image("img:v2"))
			maxTotal, minAvail := tc.replicas+tc.wantSurge, tc.replicas-tc.wantMU
			steps := f.runToCompletion(func(step string) {
				rss := f.rss()
				if asked := sumSpec(rss); asked > maxTotal {
					t.Fatalf("%s: pods asked for = %d > replicas+maxSurge = %d", step, asked, maxTotal)
				}
				if running := sumStatus(rss); running > maxTotal {
					t.Fatalf("%s: pods = %d > replicas+maxSurge = %d", step, running, maxTotal)
				}
				if avail := sumAvailable(rss); avail < minAvail {
					t.Fatalf("%s: available = %d < replicas-maxUnavailable = %d", step, avail, minAvail)
				}
			})
			second := f.current()
			if second.Name == first.Name {
				t.Fatal("template change did not create a new ReplicaSet")
			}
			for _, rs := range f.rss() {
				want := int32(0)
				if rs.Name == second.Name {
					want = tc.replicas
				}
				if rsReplicas(rs) != want {
					t.Errorf("replicaset %s replicas = %d, want %d", rs.Name, rsReplicas(rs), want)
				}
			}
			if second.Annotations[RevisionAnnotation] != "2" || f.d().Annotations[RevisionAnnotation] != "2" {
				t.Errorf("revisions: rs %q deployment %q, want 2", second.Annotations[RevisionAnnotation], f.d().Annotations[RevisionAnnotation])
			}
			t.Logf("completed in %d steps", steps+1)
		})
	}
}

func TestRecreate(t *testing.T) {
	f := rolledOut(t, newDeployment(3, recreate))
	old := f.current()
	f.update(image("img:v2"))
	f.mustSync()
	if got := rsReplicas(f.rss()[0]); got != 0 {
		t.Fatalf("old replicas after first sync = %d, want 0", got)
	}
	if n := len(f.rss()); n != 1 {
		t.Fatalf("replicasets = %d while old pods run, want 1", n)
	}
	// The ReplicaSet controller removed the pods from its count, but one
	// is still terminating: Recreate keeps waiting.
	f.replicaSets(false)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: "web-old-1", Namespace: "default", Labels: old.Spec.Template.Labels,
		OwnerReferences:   []metav1.OwnerReference{*metav1.NewControllerRef(old, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))},
		DeletionTimestamp: ptr(metav1.NewTime(t0)),
	}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	_, err := f.client.CoreV1().Pods("default").Create(f.ctx, pod, metav1.CreateOptions{})
	must(t, err, "create terminating pod")
	f.mustSync()
	if n := len(f.rss()); n != 1 {
		t.Fatalf("replicasets = %d while an old pod terminates, want 1", n)
	}
	must(t, f.client.CoreV1().Pods("default").Delete(f.ctx, pod.Name, metav1.DeleteOptions{}), "delete pod")
	f.mustSync()
	cur := f.current()
	if cur.Name == old.Name || rsReplicas(cur) != 3 {
		t.Fatalf("new replicaset %s replicas = %d, want a new set of 3", cur.Name, rsReplicas(cur))
	}
	f.runToCompletion(func(step string) {
		if n := len(active(f.rss())); n > 1 {
			t.Fatalf("%s: %d active replicasets, Recreate allows 1", step, n)
		}
	})
}

func TestRollbackReusesOldReplicaSet(t *testing.T) {
	f := rolledOut(t, newDeployment(3))
	v1 := f.current()
	f.update(image("img:v2"))
	f.runToCompletion(func(string) {})
	v2 := f.current()

	// kubectl rollout undo: the old template (without the hash label) and
	// the old set's annotations are patched back onto the deployment.
	f.update(func(d *appsv1.Deployment) {
		d.Spec.Template = *v1.Spec.Template.DeepCopy()
		delete(d.Spec.Template.Labels, hashLabel)
	})
	f.runToCompletion(func(string) {})
	rss := f.rss()
	if len(rss) != 2 {
		t.Fatalf("replicasets = %d, want 2 (v1 reused)", len(rss))
	}
	cur := f.current()
	if cur.UID != v1.UID {
		t.Fatalf("current replicaset = %s, want the old %s", cur.Name, v1.Name)
	}
	if rsReplicas(cur) != 3 || rsReplicas(rss[1]) != 0 || rss[1].UID != v2.UID {
		t.Errorf("sizes: %s=%d %s=%d, want v1=3 v2=0", rss[0].Name, rsReplicas(rss[0]), rss[1].Name, rsReplicas(rss[1]))
	}
	if got := cur.Annotations[RevisionAnnotation]; got != "3" {
		t.Errorf("reused set revision = %s, want 3", got)
	}
	if got := cur.Annotations[RevisionHistoryAnnotation]; got != "1" {
		t.Errorf("reused set revision-history = %q, want 1", got)
	}
	if got := f.d().Annotations[RevisionAnnotation]; got != "3" {
		t.Errorf("deployment revision = %s, want 3", got)
	}
}

func TestRestartCreatesNewReplicaSet(t *testing.T) {
	f := rolledOut(t, newDeployment(2))
	first := f.current()
	// kubectl rollout restart
	f.update(func(d *appsv1.Deployment) {
		d.Spec.Template.Annotations = map[string]string{"kubectl.kubernetes.io/restartedAt": "2026-01-01T12:00:00Z"}
	})
	f.runToCompletion(func(string) {})
	cur := f.current()
	if cur.UID == first.UID || cur.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" {
		t.Fatalf("restart did not roll out a new replicaset (current %s)", cur.Name)
	}
	if rsReplicas(f.rss()[0]) != 0 || rsReplicas(cur) != 2 {
		t.Errorf("sizes after restart: old %d new %d, want 0 and 2", rsReplicas(f.rss()[0]), rsReplicas(cur))
	}
}

func TestPauseAndResume(t *testing.T) {
	f := rolledOut(t, newDeployment(4))
	first := f.current()
	f.update(func(d *appsv1.Deployment) { d.Spec.Paused = true })
	f.mustSync()
	c := getCondition(f.d().Status, appsv1.DeploymentProgressing)
	if c == nil || c.Status != corev1.ConditionUnknown || c.Reason != ReasonPaused {
		t.Fatalf("Progressing while paused = %+v, want Unknown/%s", c, ReasonPaused)
	}
	f.update(image("img:v2"))
	f.update(scaleTo(6))
	for range 3 {
		f.mustSync()
		f.replicaSets(true)
	}
	if n := len(f.rss()); n != 1 {
		t.Fatalf("replicasets while paused = %d, want 1 (no rollout)", n)
	}
	if got := rsReplicas(f.rss()[0]); got != 6 {
		t.Fatalf("replicas while paused after scale = %d, want 6 (scaling still applies)", got)
	}
	if d := f.d(); d.Status.ObservedGeneration != d.Generation {
		t.Errorf("observedGeneration = %d, want %d", d.Status.ObservedGeneration, d.Generation)
	}
	f.update(func(d *appsv1.Deployment) { d.Spec.Paused = false })
	f.mustSync()
	if rss := f.rss(); len(rss) != 2 {
		t.Fatalf("replicasets after resume = %d, want 2", len(rss))
	}
	f.runToCompletion(func(string) {})
	cur := f.current()
	if cur.UID == first.UID || rsReplicas(cur) != 6 {
		t.Fatalf("after resume: current %s with %d replicas, want a new set of 6", cur.Name, rsReplicas(cur))
	}
}

func TestHistoryCleanup(t *testing.T) {
	f := rolledOut(t, newDeployment(1, func(d *appsv1.Deployment) { d.Spec.RevisionHistoryLimit = ptr(int32(2)) }))
	for i := 2; i <= 5; i++ {
		f.update(image(fmt.Sprintf("img:v%d", i)))
		f.runToCompletion(func(string) {})
	}
	f.mustSync()
	var revs []string
	for _, rs := range f.rss() {
		revs = append(revs, rs.Annotations[RevisionAnnotation])
	}
	if strings.Join(revs, ",") != "3,4,5" {
		t.Fatalf("revisions kept = %v, want 3,4,5 (current + 2 history)", revs)
	}
}

func TestHistoryToDeleteSkipsBusySets(t *testing.T) {
	d := newDeployment(1, func(d *appsv1.Deployment) { d.Spec.RevisionHistoryLimit = ptr(int32(1)) })
	mk := func(rev string, spec, status int32) *appsv1.ReplicaSet {
		return &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: "rs-" + rev, Annotations: map[string]string{RevisionAnnotation: rev}},
			Spec:       appsv1.ReplicaSetSpec{Replicas: ptr(spec)},
			Status:     appsv1.ReplicaSetStatus{Replicas: status},
		}
	}
	old := []*appsv1.ReplicaSet{mk("3", 0, 0), mk("1", 0, 1), mk("2", 0, 0), mk("4", 0, 0)}
	var got []string
	for _, rs := range historyToDelete(d, old) {
		got = append(got, rs.Name)
	}
	// Three beyond the limit (1, 2, 3); 1 still has a pod.
	if strings.Join(got, ",") != "rs-2,rs-3" {
		t.Fatalf("deleted = %v, want rs-2,rs-3", got)
	}
}
