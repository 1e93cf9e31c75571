package claim

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

var rsKind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")

func pod(name string, lbl string, owner types.UID) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name),
		Labels: map[string]string{"app": lbl}}}
	if owner != "" {
		yes := true
		p.OwnerReferences = []metav1.OwnerReference{{UID: owner, Controller: &yes, Kind: "ReplicaSet", Name: "x"}}
	}
	return p
}

func TestClaimKeepsAdoptsReleasesAndLeavesOthersAlone(t *testing.T) {
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "rs-uid"}}
	pods := []*corev1.Pod{
		pod("mine", "web", "rs-uid"),
		pod("stray", "other", "rs-uid"),
		pod("orphan", "web", ""),
		pod("foreign", "web", "someone-else"),
	}
	patched := map[string]string{}
	patch := func(_ context.Context, p *corev1.Pod, b []byte) (*corev1.Pod, bool, error) {
		patched[p.Name] = string(b)
		return p.DeepCopy(), false, nil
	}
	rechecks := 0
	o := Owner{Object: rs, Kind: rsKind, Selector: labels.SelectorFromSet(labels.Set{"app": "web"}),
		Recheck: func(context.Context) (metav1.Object, error) { rechecks++; return rs, nil }}
	owned, err := Claim(context.Background(), o, pods, patch)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range owned {
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != "mine,orphan" {
		t.Errorf("owned = %v, want mine and orphan", names)
	}
	if !strings.Contains(patched["orphan"], `"controller":true`) || !strings.Contains(patched["stray"], `"$patch":"delete"`) || len(patched) != 2 {
		t.Errorf("patches = %v", patched)
	}
	if rechecks != 1 {
		t.Errorf("owner rechecked %d times, want once", rechecks)
	}
}

func TestClaimDoesNotAdoptForAReplacedOwner(t *testing.T) {
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "old"}}
	fresh := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "new"}}
	o := Owner{Object: rs, Kind: rsKind, Selector: labels.Everything(),
		Recheck: func(context.Context) (metav1.Object, error) { return fresh, nil }}
	owned, err := Claim(context.Background(), o, []*corev1.Pod{pod("orphan", "web", "")},
		func(context.Context, *corev1.Pod, []byte) (*corev1.Pod, bool, error) {
			t.Fatal("patched for a replaced owner")
			return nil, false, nil
		})
	if err == nil || !strings.Contains(err.Error(), "was replaced") || len(owned) != 0 {
		t.Errorf("owned %v, err %v", owned, err)
	}
}
