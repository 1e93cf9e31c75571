package replicaset

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

func TestSyncCreatesUpToReplicas(t *testing.T) {
	rs := newRS("web", 3)
	tests := []struct {
		name      string
		existing  []*corev1.Pod
		wantTotal int // pods in the API after sync
	}{
		{"from nothing", nil, 3},
		{"one running", []*corev1.Pod{newPodFor(rs, "a")}, 3},
		{"finished and terminating pods do not count", []*corev1.Pod{
			newPodFor(rs, "a"),
			newPodFor(rs, "done", phase(corev1.PodSucceeded)),
			newPodFor(rs, "failed", phase(corev1.PodFailed)),
			newPodFor(rs, "going", terminating),
		}, 6},
		{"already enough", []*corev1.Pod{newPodFor(rs, "a"), newPodFor(rs, "b"), newPodFor(rs, "c")}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, rs.DeepCopy())
			f.addPods(tc.existing...)
			must(t, f.sync("web"), "sync")
			pods := f.pods()
			if len(pods) != tc.wantTotal {
				t.Fatalf("pods after sync = %d, want %d", len(pods), tc.wantTotal)
			}
			for _, p := range pods {
				if p.UID == "" || !strings.HasPrefix(string(p.UID), "uid-") {
					continue // a pre-existing pod
				}
				checkCreatedPod(t, rs, &p)
			}
			// Status reports what the lister saw; the new pods count once
			// the informer reports them.
			if got, want := f.rs("web").Status.Replicas, int32(len(activePods(tc.existing))); got != want {
				t.Errorf("status.replicas = %d, want %d", got, want)
			}
		})
	}
}

// checkCreatedPod asserts what a pod made by the controller looks like.
func checkCreatedPod(t *testing.T, rs *appsv1.ReplicaSet, p *corev1.Pod) {
	t.Helper()
	if p.GenerateName != rs.Name+"-" {
		t.Errorf("pod %s generateName = %q, want %q", p.Name, p.GenerateName, rs.Name+"-")
	}
	ref := metav1.GetControllerOf(p)
	if ref == nil || ref.UID != rs.UID || ref.Kind != "ReplicaSet" || ref.APIVersion != "apps/v1" ||
		ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
		t.Errorf("pod %s controller ref = %+v, want ReplicaSet %s with blockOwnerDeletion", p.Name, ref, rs.UID)
	}
	if p.Labels["app"] != "web" || p.Labels["tier"] != "web" {
		t.Errorf("pod %s labels = %v, want the template's", p.Name, p.Labels)
	}
	if len(p.Spec.Containers) != 1 || p.Spec.Containers[0].Image != "busybox" {
		t.Errorf("pod %s spec not from template: %+v", p.Name, p.Spec.Containers)
	}
}

func TestSyncDeletesExtrasInOrder(t *testing.T) {
	rs := newRS("web", 2)
	old := t0.Add(-time.Hour)
	pods := []*corev1.Pod{
		newPodFor(rs, "ready-old", ready(old), created(old)),
		newPodFor(rs, "ready-new", ready(old), created(old.Add(time.Minute))),
		newPodFor(rs, "not-ready", created(old)),
		newPodFor(rs, "pending", phase(corev1.PodPending), created(old)),
		newPodFor(rs, "unscheduled", unscheduled, created(old)),
	}
	tests := []struct {
		replicas int32
		want     []string // pods left
	}{
		{4, []string{"not-ready", "pending", "ready-new", "ready-old"}},
		{3, []string{"not-ready", "ready-new", "ready-old"}},
		{2, []string{"ready-new", "ready-old"}},
		{1, []string{"ready-old"}},
		{0, nil},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("replicas=%d", tc.replicas), func(t *testing.T) {
			r := rs.DeepCopy()
			r.Spec.Replicas = &tc.replicas
			f := newFixture(t, r)
			var ps []*corev1.Pod
			for _, p := range pods {
				ps = append(ps, p.DeepCopy())
			}
			f.addPods(ps...)
			must(t, f.sync("web"), "sync")
			if got := f.podNames(); !slices.Equal(got, tc.want) {
				t.Fatalf("pods left = %v, want %v", got, tc.want)
			}
			for _, e := range f.events() {
				if !strings.Contains(e, "SuccessfulDelete") {
					t.Errorf("unexpected event %q", e)
				}
			}
		})
	}
}

func TestPodsToDeleteOrder(t *testing.T) {
	rs := newRS("web", 0)
	old := t0.Add(-time.Hour)
	tests := []struct {
		name string
		pods []*corev1.Pod
		want string // first victim
	}{
		{"unscheduled before scheduled", []*corev1.Pod{
			newPodFor(rs, "scheduled", phase(corev1.PodPending)), newPodFor(rs, "unscheduled", unscheduled)}, "unscheduled"},
		{"pending before running", []*corev1.Pod{
			newPodFor(rs, "running"), newPodFor(rs, "pending", phase(corev1.PodPending))}, "pending"},
		{"not ready before ready", []*corev1.Pod{
			newPodFor(rs, "ready", ready(old)), newPodFor(rs, "not-ready")}, "not-ready"},
		{"doubled up before alone", []*corev1.Pod{
			newPodFor(rs, "alone", ready(old), onNode("node-1")),
			newPodFor(rs, "pair-a", ready(old), onNode("node-2"), created(old)),
			newPodFor(rs, "pair-b", ready(old), onNode("node-2"), created(old.Add(-time.Minute)))}, "pair-a"},
		{"ready for less time first", []*corev1.Pod{
			newPodFor(rs, "long", ready(old)), newPodFor(rs, "short", ready(t0.Add(-time.Minute)))}, "short"},
		{"newer before older", []*corev1.Pod{
			newPodFor(rs, "older", ready(old), created(old)), newPodFor(rs, "newer", ready(old), created(old.Add(time.Second)))}, "newer"},
		{"deletion cost wins over age", []*corev1.Pod{
			newPodFor(rs, "newer", ready(old), created(old.Add(time.Second)), costOf("10")),
			newPodFor(rs, "older", ready(old), created(old))}, "older"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := podsToDelete(tc.pods, 1, t0)
			if len(got) != 1 || got[0].Name != tc.want {
				t.Fatalf("first victim = %v, want %s", names(got), tc.want)
			}
		})
	}
}

func costOf(v string) podOpt {
	return func(p *corev1.Pod) {
		p.Annotations = map[string]string{deletionCostAnnotation: v}
	}
}

func names(pods []*corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

func TestExpectationsPreventDoubleCreation(t *testing.T) {
	f := newFixture(t, newRS("web", 3))
	must(t, f.sync("web"), "first sync")
	if n := len(f.pods()); n != 3 {
		t.Fatalf("pods after first sync = %d, want 3", n)
	}
	// The lister has not seen the new pods yet: a second sync must not
	// create them again.
	must(t, f.sync("web"), "sync with stale lister")
	if n := len(f.pods()); n != 3 {
		t.Fatalf("pods after stale sync = %d, want 3 (created twice)", n)
	}
	// Two of three creations observed: still waiting.
	pods := f.pods()
	f.c.addPod(&pods[0])
	f.c.addPod(&pods[1])
	must(t, f.sync("web"), "sync with partly observed creations")
	if n := len(f.pods()); n != 3 {
		t.Fatalf("pods after partial observation = %d, want 3", n)
	}
	// The informer catches up: nothing more to do.
	f.observe()
	must(t, f.sync("web"), "sync with fresh lister")
	if n := len(f.pods()); n != 3 {
		t.Fatalf("pods after fresh sync = %d, want 3", n)
	}
	if got := f.rs("web").Status.Replicas; got != 3 {
		t.Errorf("status.replicas = %d, want 3", got)
	}
}

func TestExpectationsExpire(t *testing.T) {
	f := newFixture(t, newRS("web", 2))
	must(t, f.sync("web"), "first sync")
	// The watch lost the pods' events for good; after the TTL the lister
	// is trusted again (and here, wrongly, creates more: the trade-off for
	// never freezing).
	f.clock.Step(expectationsTTL - time.Second)
	must(t, f.sync("web"), "sync before ttl")
	if n := len(f.pods()); n != 2 {
		t.Fatalf("pods before ttl = %d, want 2", n)
	}
	f.clock.Step(2 * time.Second)
	must(t, f.sync("web"), "sync after ttl")
	if n := len(f.pods()); n != 4 {
		t.Fatalf("pods after ttl = %d, want 4", n)
	}
}

func TestExpectationsPreventDoubleDeletion(t *testing.T) {
	rs := newRS("web", 1)
	f := newFixture(t, rs)
	old := t0.Add(-time.Hour)
	f.addPods(newPodFor(rs, "a", ready(old)), newPodFor(rs, "b"), newPodFor(rs, "c", ready(old), created(old)))
	must(t, f.sync("web"), "first sync")
	if got := f.podNames(); !slices.Equal(got, []string{"c"}) {
		t.Fatalf("pods left = %v, want [c]", got)
	}
	// Scale to 0 while the lister still shows a, b, c: the outstanding
	// deletions block any new decision.
	r := f.rs("web")
	zero := int32(0)
	r.Spec.Replicas = &zero
	must(t, f.rsStore.Update(r), "update cache")
	must(t, f.sync("web"), "sync with stale lister")
	if got := f.podNames(); !slices.Equal(got, []string{"c"}) {
		t.Fatalf("pods left with stale lister = %v, want [c]", got)
	}
	// An update with deletionTimestamp and the final delete count once.
	a := f.podStore.List()
	for _, o := range a {
		p := o.(*corev1.Pod)
		if p.Name != "c" {
			f.c.deletePod(p)
			f.c.deletePod(p)
		}
	}
	f.refresh()
	r = f.rs("web")
	r.Spec.Replicas = &zero
	must(t, f.rsStore.Update(r), "update cache")
	must(t, f.sync("web"), "sync after observed deletions")
	if got := f.podNames(); len(got) != 0 {
		t.Fatalf("pods left = %v, want none", got)
	}
}

func TestAdoptionAndRelease(t *testing.T) {
	rs := newRS("web", 2)
	other := newRS("other", 1)
	tests := []struct {
		name      string
		rsDeleted bool
		pods      []*corev1.Pod
		wantOwned []string // pods whose controller is rs after sync (pre-existing ones)
		wantFree  []string // pre-existing pods without controller after sync
		wantNew   int      // pods created
	}{
		{name: "orphan matching selector is adopted",
			pods:      []*corev1.Pod{newPodFor(rs, "orphan", orphan)},
			wantOwned: []string{"orphan"}, wantNew: 1},
		{name: "orphan not matching is ignored",
			pods:     []*corev1.Pod{newPodFor(rs, "stranger", orphan, labelled(map[string]string{"app": "x"}))},
			wantFree: []string{"stranger"}, wantNew: 2},
		{name: "owned pod no longer matching is released and replaced",
			pods:      []*corev1.Pod{newPodFor(rs, "a"), newPodFor(rs, "relabelled", labelled(map[string]string{"app": "debug"}))},
			wantOwned: []string{"a"}, wantFree: []string{"relabelled"}, wantNew: 1},
		{name: "pod of another controller is left alone",
			pods:    []*corev1.Pod{newPodFor(other, "theirs", labelled(map[string]string{"app": "web"}))},
			wantNew: 2},
		{name: "terminating orphan is not adopted",
			pods:     []*corev1.Pod{newPodFor(rs, "going", orphan, terminating)},
			wantFree: []string{"going"}, wantNew: 2},
		{name: "replicaset being deleted neither adopts nor releases", rsDeleted: true,
			pods: []*corev1.Pod{newPodFor(rs, "orphan", orphan),
				newPodFor(rs, "relabelled", labelled(map[string]string{"app": "debug"}))},
			wantOwned: []string{"relabelled"}, wantFree: []string{"orphan"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := rs.DeepCopy()
			if tc.rsDeleted {
				now := metav1.NewTime(t0)
				r.DeletionTimestamp = &now
				r.Finalizers = []string{"foregroundDeletion"}
			}
			f := newFixture(t, r, other.DeepCopy())
			f.addPods(tc.pods...)
			must(t, f.sync("web"), "sync")
			var created int
			byName := map[string]corev1.Pod{}
			for _, p := range f.pods() {
				byName[p.Name] = p
				if strings.HasPrefix(p.Name, "web-") {
					created++
				}
			}
			for _, n := range tc.wantOwned {
				if ref := metav1.GetControllerOf(ptr(byName[n])); ref == nil || ref.UID != rs.UID {
					t.Errorf("pod %s controller = %v, want replicaset web", n, ref)
				}
			}
			for _, n := range tc.wantFree {
				if ref := metav1.GetControllerOf(ptr(byName[n])); ref != nil {
					t.Errorf("pod %s controller = %v, want none", n, ref)
				}
			}
			if created != tc.wantNew {
				t.Errorf("created %d pods, want %d", created, tc.wantNew)
			}
			if ref := metav1.GetControllerOf(ptr(byName["theirs"])); byName["theirs"].Name != "" && (ref == nil || ref.UID != other.UID) {
				t.Errorf("pod theirs changed owner to %v", ref)
			}
		})
	}
}

func ptr(p corev1.Pod) *corev1.Pod { return &p }

func TestStatusCounts(t *testing.T) {
	rs := newRS("web", 5)
	rs.Generation = 7
	rs.Spec.MinReadySeconds = 30
	rs.Spec.Template.Labels["version"] = "2" // pods below lack it unless set
	full := map[string]string{"app": "web", "tier": "web", "version": "2"}
	f := newFixture(t, rs)
	f.addPods(
		newPodFor(rs, "available", labelled(full), ready(t0.Add(-time.Minute))),
		newPodFor(rs, "just-ready", labelled(full), ready(t0.Add(-10*time.Second))),
		newPodFor(rs, "not-ready", labelled(full)),
		newPodFor(rs, "partial-labels", ready(t0.Add(-time.Hour))),
		newPodFor(rs, "terminating", labelled(full), ready(t0.Add(-time.Hour)), terminating),
		newPodFor(rs, "failed", labelled(full), phase(corev1.PodFailed)),
	)
	must(t, f.sync("web"), "sync")
	got := f.rs("web").Status
	want := appsv1.ReplicaSetStatus{
		Replicas: 4, FullyLabeledReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 2, ObservedGeneration: 7,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("status = %+v, want %+v", got, want)
	}
	// The just-ready pod becomes available 30s after it became ready.
	f.clock.Step(25 * time.Second)
	f.refresh()
	r := f.rs("web")
	r.Spec.Replicas = ptr32(4) // no creation noise
	must(t, f.rsStore.Update(r), "update cache")
	f.c.exp.forget("default/web")
	must(t, f.sync("web"), "sync later")
	if got := f.rs("web").Status.AvailableReplicas; got != 3 {
		t.Fatalf("availableReplicas after minReadySeconds = %d, want 3", got)
	}
}

func ptr32(v int32) *int32 { return &v }

func TestCreateFailureSetsConditionAndEvent(t *testing.T) {
	f := newFixture(t, newRS("web", 4))
	calls := 0
	f.client.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		calls++
		return true, nil, apierrors.NewForbidden(corev1.Resource("pods"), "", errors.New("exceeded quota"))
	})
	if err := f.sync("web"); err == nil {
		t.Fatal("sync succeeded, want the create error")
	}
	if calls != 1 {
		t.Errorf("create calls = %d, want 1 (slow start stops at the first failed batch)", calls)
	}
	st := f.rs("web").Status
	if len(st.Conditions) != 1 || st.Conditions[0].Type != appsv1.ReplicaSetReplicaFailure || st.Conditions[0].Reason != "FailedCreate" {
		t.Errorf("conditions = %+v, want ReplicaFailure/FailedCreate", st.Conditions)
	}
	evs := f.events()
	if len(evs) != 1 || !strings.Contains(evs[0], "FailedCreate") {
		t.Errorf("events = %v, want one FailedCreate", evs)
	}
	// The failed creations settled their expectations: the next sync
	// tries again at once.
	if !f.c.exp.satisfied("default/web", "rs-web") {
		t.Error("expectations still pending after failed creations")
	}
}

// A Deployment deleted and created again with the same template gets a
// ReplicaSet of the same name. If the old ReplicaSet's last sync created pods
// that were never observed for it (they resolve to no ReplicaSet once it is
// gone; and a relist shows the new one as an update of the old, with no
// delete event to forget the old record), the new ReplicaSet must still
// create its pods at once, not after the expectations' TTL.
func TestReplicaSetRecreatedUnderSameNameIsNotFrozen(t *testing.T) {
	old := newRS("web", 2)
	f := newFixture(t, old.DeepCopy())
	f.addPods(newPodFor(old, "a", terminating), newPodFor(old, "b", terminating))
	must(t, f.sync("web"), "sync of the old ReplicaSet")

	cur := newRS("web", 2)
	cur.UID = "rs-web-2"
	must(t, f.client.AppsV1().ReplicaSets("default").Delete(f.ctx, "web", metav1.DeleteOptions{}), "delete old")
	_, err := f.client.AppsV1().ReplicaSets("default").Create(f.ctx, cur, metav1.CreateOptions{})
	must(t, err, "create new")
	must(t, f.rsStore.Update(cur), "relist: the new one in the old one's place")
	f.observe() // the old one's new pods resolve to no ReplicaSet now
	must(t, f.sync("web"), "sync of the new ReplicaSet")

	var mine int
	for _, p := range f.pods() {
		if ref := metav1.GetControllerOf(&p); ref != nil && ref.UID == cur.UID {
			mine++
		}
	}
	if mine != 2 {
		t.Fatalf("the new ReplicaSet has %d pods after its first sync, want 2 (pods: %v)", mine, f.podNames())
	}
}
