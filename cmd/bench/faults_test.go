package main

import (
	"errors"
	"testing"
	"time"

	"github.com/kinns/kinns/harness"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestFirstAndLastEnded(t *testing.T) {
	t0 := time.Unix(100, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	bad := errors.New("503")
	ws := []write{
		{name: "a", end: at(0.5)},
		{name: "b", end: at(1.1), err: bad},
		{name: "c", end: at(1.2), err: bad},
		{name: "d", end: at(2.0)},
	}
	if w, ok := firstEnded(ws, at(1), failed); !ok || w.name != "b" {
		t.Errorf("first failure after 1s: %q %v, want b", w.name, ok)
	}
	if w, ok := firstEnded(ws, at(1), succeeded); !ok || w.name != "d" {
		t.Errorf("first success after 1s: %q %v, want d", w.name, ok)
	}
	if _, ok := firstEnded(ws, at(2), succeeded); ok {
		t.Error("a write ended after the last one")
	}
	if w, ok := lastEnded(ws, at(1.5), succeeded); !ok || w.name != "a" {
		t.Errorf("last success before 1.5s: %q %v, want a", w.name, ok)
	}
	if n, err := countFailed(ws, at(0)); n != 2 || err != bad {
		t.Errorf("failures: %d %v, want 2 and the first's error", n, err)
	}
}

func TestHolderHost(t *testing.T) {
	if n, err := holderHost("cp-2_5b0c6d4e-1f0a-4c59-9e1e-3c3d0e8f1a2b"); err != nil || n != 2 {
		t.Errorf("holderHost = %d, %v; want 2", n, err)
	}
	for _, bad := range []string{"", "node-1_x", "cp-x_y", "cp-0"} {
		if _, err := holderHost(bad); err == nil {
			t.Errorf("holderHost(%q) took it", bad)
		}
	}
}

func TestConfigMapCreate(t *testing.T) {
	created := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","stage":"ResponseComplete","verb":"create",` +
		`"requestURI":"/api/v1/namespaces/default/configmaps","objectRef":{"resource":"configmaps","namespace":"default","name":"w-7","apiVersion":"v1"},` +
		`"responseStatus":{"metadata":{},"code":201}}`
	if name, ok := configMapCreate([]byte(created)); !ok || name != "w-7" {
		t.Errorf("configMapCreate = %q %v, want w-7", name, ok)
	}
	refused := `{"kind":"Event","stage":"ResponseComplete","verb":"create","objectRef":{"resource":"configmaps","name":"w-8"},"responseStatus":{"code":503}}`
	get := `{"kind":"Event","stage":"ResponseComplete","verb":"get","objectRef":{"resource":"configmaps","name":"w-9"},"responseStatus":{"code":200}}`
	for _, line := range []string{refused, get, `{"objectRef":{"resource":"pods"}}`, "not json configmaps"} {
		if name, ok := configMapCreate([]byte(line)); ok {
			t.Errorf("configMapCreate(%s) = %q", line, name)
		}
	}
}

func TestCountHealing(t *testing.T) {
	now := metav1.Now()
	ready := corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	pod := func(node string, deleting bool, st corev1.PodStatus) corev1.Pod {
		p := corev1.Pod{Spec: corev1.PodSpec{NodeName: node}, Status: st}
		if deleting {
			p.DeletionTimestamp = &now
		}
		return p
	}
	pods := []corev1.Pod{
		pod("node-3", true, ready),  // evicted
		pod("node-3", false, ready), // not yet
		pod("node-1", false, ready),
		pod("node-2", false, corev1.PodStatus{}), // bound, not Ready
		pod("node-1", true, ready),               // going: not counted
		pod("", false, corev1.PodStatus{}),       // not bound
	}
	evicted, bound, readyN := countHealing(pods, "node-3")
	if !evicted || bound != 2 || readyN != 1 {
		t.Errorf("countHealing = %v %d %d, want true 2 1", evicted, bound, readyN)
	}
}

func TestTimelineKeepsFirstSighting(t *testing.T) {
	tl := &timeline{start: time.Now().Add(-time.Second)}
	if tl.mark("a", false) || tl.when("a") != 0 {
		t.Fatal("a phase not seen was marked")
	}
	if !tl.mark("a", true) {
		t.Fatal("a phase seen was not marked")
	}
	first := tl.when("a")
	time.Sleep(5 * time.Millisecond)
	if !tl.mark("a", false) || tl.when("a") != first {
		t.Error("a phase seen once must stay seen, at its first time")
	}
	if first < 1 {
		t.Errorf("when = %v, want >= 1s after start", first)
	}
}

func TestSelfHealPolicy(t *testing.T) {
	// fast: grace 5 s - renewal 1 s + toleration 2 s; kubernetes: 50 - 10 + 300.
	for profile, want := range map[string]float64{harness.TimingFast: 6, harness.TimingKubernetes: 340} {
		if got := selfHealPolicy(profile); got != want {
			t.Errorf("%s: %v s, want %v", profile, got, want)
		}
	}
}
