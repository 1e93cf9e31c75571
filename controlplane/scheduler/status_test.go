package scheduler

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestScheduledConditionPatch(t *testing.T) {
	t0, t1 := metav1.Unix(100, 0), metav1.Unix(200, 0)
	p := pod("p", "1", "")
	p.Generation = 3

	patch, changed := scheduledConditionPatch(p, v1.PodReasonUnschedulable, "0/1 nodes are available: 1 Insufficient cpu.", t0)
	if !changed {
		t.Fatal("no patch for a pod without the condition")
	}
	var got struct {
		Metadata struct{ UID string }
		Status   v1.PodStatus
	}
	if err := json.Unmarshal(patch, &got); err != nil {
		t.Fatal(err)
	}
	c := got.Status.Conditions
	if got.Metadata.UID != "uid-p" || len(c) != 1 || c[0].Type != v1.PodScheduled || c[0].Status != v1.ConditionFalse ||
		c[0].Reason != v1.PodReasonUnschedulable || c[0].ObservedGeneration != 3 || !c[0].LastTransitionTime.Equal(&t0) {
		t.Fatalf("patch %s", patch)
	}

	p.Status.Conditions = c
	if _, changed := scheduledConditionPatch(p, v1.PodReasonUnschedulable, c[0].Message, t1); changed {
		t.Error("patch for a condition that already says the same")
	}
	patch, changed = scheduledConditionPatch(p, v1.PodReasonUnschedulable, "0/2 nodes are available: 2 Insufficient cpu.", t1)
	if !changed || !strings.Contains(patch2time(t, patch), t0.UTC().Format(time.RFC3339)) {
		t.Errorf("new message: changed %v, patch %s; want the transition time kept", changed, patch)
	}
}

func patch2time(t *testing.T, patch []byte) string {
	var got struct{ Status v1.PodStatus }
	if err := json.Unmarshal(patch, &got); err != nil {
		t.Fatal(err)
	}
	return got.Status.Conditions[0].LastTransitionTime.UTC().Format(time.RFC3339)
}

func TestTruncate(t *testing.T) {
	if got := truncate("short", 10); got != "short" {
		t.Errorf("truncate(short) = %q", got)
	}
	if got := truncate("ééééé", 8); got != "éé..." { // é is 2 bytes: cut on a rune boundary
		t.Errorf("truncate = %q", got)
	}
}

func TestNodeChangeMatters(t *testing.T) {
	base := node("n", "4", "8Gi", 110)
	heartbeat := base.DeepCopy()
	heartbeat.Status.Conditions[0].LastHeartbeatTime = metav1.Unix(5, 0)
	heartbeat.Status.Images = []v1.ContainerImage{{Names: []string{"kinns.local/testapp:latest"}}}
	if nodeChangeMatters(base, heartbeat) {
		t.Error("a heartbeat matters")
	}
	for name, n := range map[string]*v1.Node{
		"allocatable": node("n", "8", "8Gi", 110),
		"taint":       node("n", "4", "8Gi", 110, withTaint("k", "", v1.TaintEffectNoSchedule)),
		"label":       node("n", "4", "8Gi", 110, withLabel("disk", "ssd")),
		"cordon":      node("n", "4", "8Gi", 110, cordoned()),
		"ready":       node("n", "4", "8Gi", 110, withReady(v1.ConditionFalse)),
	} {
		if !nodeChangeMatters(base, n) {
			t.Errorf("a change of %s does not matter", name)
		}
	}
}

func TestConfigIsJSONAndRunNeedsKubeconfig(t *testing.T) {
	cfg := Config{Kubeconfig: "/x/scheduler.kubeconfig", UnschedulableFlush: 30 * time.Second}
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var back Config
	if err := json.Unmarshal(data, &back); err != nil || back != cfg {
		t.Fatalf("round trip %s: %+v, %v", data, back, err)
	}
	if err := Run(context.Background(), Config{}); err == nil {
		t.Error("Run without a kubeconfig returned nil")
	}
	if err := Run(context.Background(), Config{Kubeconfig: t.TempDir() + "/missing"}); err == nil {
		t.Error("Run with a missing kubeconfig returned nil")
	}
}
