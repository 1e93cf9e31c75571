package main

import (
	"context"
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	schedulerconfigv1 "k8s.io/kube-scheduler/config/v1"

	"github.com/kinns/kinns/harness"
)

func TestKubeSchedulerConfig(t *testing.T) {
	b, err := kubeSchedulerConfig("/x/kubeconfig")
	if err != nil {
		t.Fatal(err)
	}
	var got schedulerconfigv1.KubeSchedulerConfiguration
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Kind != "KubeSchedulerConfiguration" || got.APIVersion != "kubescheduler.config.k8s.io/v1" {
		t.Errorf("type %s %s", got.APIVersion, got.Kind)
	}
	if c := got.ClientConnection; c.Kubeconfig != "/x/kubeconfig" || c.QPS != harness.SchedulerQPS || c.Burst != harness.SchedulerBurst {
		t.Errorf("client connection %+v, want our scheduler's QPS and burst", c)
	}
	if le := got.LeaderElection.LeaderElect; le == nil || *le {
		t.Errorf("leader election %v, want off", le)
	}
	if len(got.Profiles) != 1 || *got.Profiles[0].SchedulerName != upstreamSchedulerName || got.Profiles[0].Plugins != nil {
		t.Errorf("profiles %+v, want one default profile named %s", got.Profiles, upstreamSchedulerName)
	}
}

// bindOnCreate makes the fake API server bind each pod as it is created,
// as a scheduler would at once.
func bindOnCreate(cs *fake.Clientset) {
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		a.(k8stesting.CreateAction).GetObject().(*corev1.Pod).Spec.NodeName = "sched-node-0"
		return false, nil, nil
	})
}

func TestBindRateCountsOnlyItsBatch(t *testing.T) {
	other := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "default", Labels: map[string]string{"bench-sched": "other"}},
		Spec: corev1.PodSpec{NodeName: "sched-node-1"}}
	cs := fake.NewClientset(other)
	bindOnCreate(cs)
	rate, err := bindRate(context.Background(), cs, schedBatch{prefix: "b", schedulerName: upstreamSchedulerName, pods: 5})
	if err != nil || rate <= 0 {
		t.Fatalf("rate %v, err %v", rate, err)
	}
	p, err := cs.CoreV1().Pods("default").Get(context.Background(), "b-4", metav1.GetOptions{})
	if err != nil || p.Spec.SchedulerName != upstreamSchedulerName {
		t.Fatalf("pod b-4: %v, %v", p, err)
	}
}

func TestBindRateReportsFailedCreates(t *testing.T) {
	left := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "b-0", Namespace: "default", Labels: map[string]string{"bench-sched": "b"}}}
	cs := fake.NewClientset(left)
	bindOnCreate(cs)
	if _, err := bindRate(context.Background(), cs, schedBatch{prefix: "b", pods: 3}); err == nil {
		t.Fatal("a pod of the batch could not be created, and bindRate did not say so")
	}
}

func TestUpstreamSchedulingRefusesImpossibleBatches(t *testing.T) {
	for _, c := range []struct{ pods, nodes int }{{0, 10}, {500, 0}, {1101, 10}} {
		if _, err := upstreamScheduling(context.Background(), nil, c.pods, c.nodes); err == nil {
			t.Errorf("%d pods on %d nodes: no error", c.pods, c.nodes)
		}
	}
}

func TestUpstreamProxySyncRefusesBadSizes(t *testing.T) {
	for _, c := range []struct{ services, endpoints, runs int }{{0, 10, 1}, {10, 0, 1}, {10, 10, 0}, {10, 1000, 1}} {
		if _, err := upstreamProxySync(context.Background(), c.services, c.endpoints, c.runs); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}
