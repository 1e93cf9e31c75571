package deployment

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestScaleWithoutRollout(t *testing.T) {
	f := rolledOut(t, newDeployment(3))
	for _, n := range []int32{5, 1, 0, 2} {
		f.update(scaleTo(n))
		f.mustSync()
		rss := f.rss()
		if len(rss) != 1 || rsReplicas(rss[0]) != n {
			t.Fatalf("after scaling to %d: %d sets, size %d", n, len(rss), rsReplicas(rss[0]))
		}
		if got := rss[0].Annotations[DesiredReplicasAnnotation]; got != strconv.Itoa(int(n)) {
			t.Errorf("desired-replicas = %s, want %d", got, n)
		}
		f.replicaSets(true)
	}
}

func TestProportionalScalingDuringRollout(t *testing.T) {
	tests := []struct {
		name string
		to   int32
	}{{"up", 20}, {"down", 5}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := rolledOut(t, newDeployment(10))
			f.update(image("img:v2"))
			f.mustSync() // new set: 3 (surge)
			f.replicaSets(false)
			f.mustSync() // old set: 8 (maxUnavailable 2)
			f.replicaSets(false)
			before := map[string]int32{}
			for _, rs := range f.rss() {
				before[rs.Name] = rsReplicas(rs)
			}
			f.update(scaleTo(tc.to))
			f.mustSync()
			d := f.d()
			rss := f.rss()
			if len(active(rss)) != 2 {
				t.Fatalf("active sets = %d, want both still active", len(active(rss)))
			}
			if got, want := sumSpec(rss), tc.to+maxSurge(d); got != want {
				t.Errorf("pods asked for = %d, want replicas+maxSurge = %d", got, want)
			}
			for _, rs := range rss {
				grew := rsReplicas(rs) - before[rs.Name]
				if (tc.to > 10 && grew <= 0) || (tc.to < 10 && grew > 0) {
					t.Errorf("set %s went %d -> %d when scaling %s", rs.Name, before[rs.Name], rsReplicas(rs), tc.name)
				}
				if rs.Annotations[DesiredReplicasAnnotation] != strconv.Itoa(int(tc.to)) {
					t.Errorf("set %s desired-replicas = %s, want %d", rs.Name, rs.Annotations[DesiredReplicasAnnotation], tc.to)
				}
			}
			f.runToCompletion(func(string) {})
			if cur := f.current(); rsReplicas(cur) != tc.to {
				t.Fatalf("new set after rollout = %d, want %d", rsReplicas(cur), tc.to)
			}
		})
	}
}

func TestProportionalSizes(t *testing.T) {
	mk := func(name string, size, maxAnn int32, age int) *appsv1.ReplicaSet {
		return &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(t0.Add(-timeDur(age))),
				Annotations: map[string]string{MaxReplicasAnnotation: strconv.Itoa(int(maxAnn))}},
			Spec: appsv1.ReplicaSetSpec{Replicas: ptr(size)},
		}
	}
	tests := []struct {
		name     string
		replicas int32
		sets     []*appsv1.ReplicaSet
		want     map[string]int32
	}{
		{"double evenly", 20, []*appsv1.ReplicaSet{mk("a", 6, 12, 2), mk("b", 6, 12, 1)}, map[string]int32{"a": 12, "b": 13}},
		{"halve", 5, []*appsv1.ReplicaSet{mk("a", 8, 13, 2), mk("b", 5, 13, 1)}, map[string]int32{"a": 4, "b": 3}},
		{"to zero", 0, []*appsv1.ReplicaSet{mk("a", 8, 13, 2), mk("b", 5, 13, 1)}, map[string]int32{"a": 0, "b": 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDeployment(tc.replicas)
			got := proportionalSizes(d, tc.sets)
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("sizes = %v, want %v", got, tc.want)
					break
				}
			}
		})
	}
}

func TestNewRSReplicas(t *testing.T) {
	tests := []struct {
		name             string
		replicas         int32
		surge            intstr.IntOrString
		oldSize, newSize int32
		want             int32
	}{
		{"first rollout takes all", 3, intstr.FromInt32(1), 0, 0, 3},
		{"surge budget", 10, intstr.FromString("25%"), 10, 0, 3},
		{"budget used", 10, intstr.FromString("25%"), 10, 3, 3},
		{"room after old shrank", 10, intstr.FromString("25%"), 8, 3, 5},
		{"never above replicas", 4, intstr.FromInt32(4), 1, 3, 4},
		{"no surge", 3, intstr.FromInt32(0), 3, 0, 0},
	}
	for _, tc := range tests {
		d := newDeployment(tc.replicas, rolling(tc.surge, intstr.FromInt32(1)))
		old := &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Replicas: ptr(tc.oldSize)}}
		nrs := &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Replicas: ptr(tc.newSize)}}
		if got := newRSReplicas(d, []*appsv1.ReplicaSet{old, nrs}, nrs); got != tc.want {
			t.Errorf("%s: new set size = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestAdoptAndReleaseReplicaSets(t *testing.T) {
	d := newDeployment(2)
	orphan := newReplicaSet(d)
	orphan.Name, orphan.UID, orphan.OwnerReferences = "web-orphan", "rs-orphan", nil
	orphan.Spec.Replicas = ptr(int32(2))
	relabelled := newReplicaSet(d)
	relabelled.Name, relabelled.UID = "web-relabelled", "rs-relabelled"
	relabelled.Labels = map[string]string{"app": "debug"}
	stranger := newReplicaSet(d)
	stranger.Name, stranger.UID = "other", "rs-other"
	stranger.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "other", UID: types.UID("d-other"), Controller: ptr(true)}}
	f := newFixture(t, d, orphan, relabelled, stranger)
	f.mustSync()
	byName := map[string]*appsv1.ReplicaSet{}
	for _, rs := range f.rss() {
		byName[rs.Name] = rs
	}
	if !metav1.IsControlledBy(byName["web-orphan"], f.d()) {
		t.Errorf("orphan owner refs = %+v, want adopted", byName["web-orphan"].OwnerReferences)
	}
	if ref := metav1.GetControllerOf(byName["web-relabelled"]); ref != nil {
		t.Errorf("relabelled set controller = %+v, want released", ref)
	}
	if ref := metav1.GetControllerOf(byName["other"]); ref == nil || ref.UID != "d-other" {
		t.Errorf("other deployment's set controller = %+v, want untouched", ref)
	}
	// The adopted set has the current template: no new set is created.
	if len(byName) != 3 {
		t.Errorf("replicasets = %d, want 3 (adopted set reused)", len(byName))
	}
}

func TestTemplateHash(t *testing.T) {
	d := newDeployment(1)
	h := TemplateHash(&d.Spec.Template, nil)
	if h != TemplateHash(d.Spec.Template.DeepCopy(), nil) {
		t.Error("hash differs for equal templates")
	}
	if !regexp.MustCompile(`^[bcdfghjklmnpqrstvwxz2456789]{1,10}$`).MatchString(h) {
		t.Errorf("hash %q is not a short safe label value", h)
	}
	other := d.Spec.Template.DeepCopy()
	other.Spec.Containers[0].Image = "img:v2"
	if TemplateHash(other, nil) == h {
		t.Error("different templates share a hash")
	}
	if TemplateHash(&d.Spec.Template, ptr(int32(1))) == h {
		t.Error("collisionCount does not change the hash")
	}
	withHash := d.Spec.Template.DeepCopy()
	withHash.Labels = withLabel(withHash.Labels, hashLabel, h)
	if !equalIgnoreHash(withHash, &d.Spec.Template) || equalIgnoreHash(other, &d.Spec.Template) {
		t.Error("equalIgnoreHash does not ignore exactly the hash label")
	}
}

func TestHashCollision(t *testing.T) {
	d := newDeployment(2)
	clash := newReplicaSet(d) // same name, someone else's set
	clash.UID, clash.OwnerReferences = "rs-clash", nil
	clash.Labels = map[string]string{"app": "other"}
	clash.Spec.Template.Spec.Containers[0].Image = "something-else"
	f := newFixture(t, d, clash)
	if err := f.sync(); err == nil {
		t.Fatal("sync succeeded despite a name clash")
	}
	if cc := f.d().Status.CollisionCount; cc == nil || *cc != 1 {
		t.Fatalf("collisionCount = %v, want 1", cc)
	}
	f.mustSync()
	cur := f.current()
	if cur.UID == clash.UID || cur.Name == clash.Name || !metav1.IsControlledBy(cur, f.d()) {
		t.Fatalf("new set = %s (%s), want a differently named set of ours", cur.Name, cur.UID)
	}
	if cur.Status.Replicas != 0 || rsReplicas(cur) != 2 {
		t.Errorf("new set size = %d, want 2", rsReplicas(cur))
	}
}

func TestEmptySelectorIsRefused(t *testing.T) {
	d := newDeployment(2, func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} })
	f := newFixture(t, d)
	f.mustSync()
	if n := len(f.rss()); n != 0 {
		t.Fatalf("replicasets = %d, want none for an empty selector", n)
	}
	evs := f.events()
	if len(evs) != 1 || evs[0] != corev1.EventTypeWarning+" "+reasonSelectingAll+" This deployment is selecting all pods. A non-empty selector is required." {
		t.Errorf("events = %q", evs)
	}
}

func timeDur(hours int) time.Duration { return time.Duration(hours) * time.Hour }
