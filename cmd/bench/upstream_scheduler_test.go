package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
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
	versioned(cs)
}

// versioned gives the fake API server's pods and lists resource versions,
// which a RetryWatcher needs, as a real API server does.
func versioned(cs *fake.Clientset) {
	var rv atomic.Int64
	rv.Store(100)
	next := func() string { return strconv.FormatInt(rv.Add(1), 10) }
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if p, ok := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod); ok {
			p.ResourceVersion = next()
		}
		return false, nil, nil
	})
	cs.PrependReactor("list", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		l := a.(k8stesting.ListAction)
		obj, err := cs.Tracker().List(corev1.SchemeGroupVersion.WithResource("pods"), corev1.SchemeGroupVersion.WithKind("Pod"), l.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		list := obj.(*corev1.PodList)
		list.ResourceVersion = next()
		return true, list, nil
	})
}

// pauser records the calls of backlogRate's pause and resume.
type pauser struct{ calls []string }

func (p *pauser) pause() error  { p.calls = append(p.calls, "pause"); return nil }
func (p *pauser) resume() error { p.calls = append(p.calls, "resume"); return nil }

func TestBacklogRateCountsOnlyItsBatch(t *testing.T) {
	other := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "default", ResourceVersion: "1", Labels: map[string]string{"bench-sched": "other"}},
		Spec: corev1.PodSpec{NodeName: "sched-node-1"}}
	cs := fake.NewClientset(other)
	bindOnCreate(cs)
	var p pauser
	rate, err := backlogRate(context.Background(), cs, schedBatch{prefix: "b", schedulerName: upstreamSchedulerName, pods: 5}, p.pause, p.resume)
	if err != nil || rate <= 0 {
		t.Fatalf("rate %v, err %v", rate, err)
	}
	if strings.Join(p.calls, ",") != "pause,resume" {
		t.Errorf("calls %v, want pause then resume", p.calls)
	}
	pod, err := cs.CoreV1().Pods("default").Get(context.Background(), "b-4", metav1.GetOptions{})
	if err != nil || pod.Spec.SchedulerName != upstreamSchedulerName {
		t.Fatalf("pod b-4: %v, %v", pod, err)
	}
}

func TestBacklogRateReportsFailedCreatesAndResumes(t *testing.T) {
	left := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "b-0", Namespace: "default", Labels: map[string]string{"bench-sched": "b"}}}
	cs := fake.NewClientset(left)
	bindOnCreate(cs)
	var p pauser
	if _, err := backlogRate(context.Background(), cs, schedBatch{prefix: "b", pods: 3}, p.pause, p.resume); err == nil {
		t.Fatal("a pod of the batch could not be created, and backlogRate did not say so")
	}
	if strings.Join(p.calls, ",") != "pause,resume" {
		t.Errorf("calls %v: a failed batch must leave the scheduler running", p.calls)
	}
}

func TestBindFloorBindsRoundRobinForNoScheduler(t *testing.T) {
	cs := fake.NewClientset()
	var rv atomic.Int64
	rv.Store(1000)
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "binding" {
			return false, nil, nil
		}
		b := a.(k8stesting.CreateAction).GetObject().(*corev1.Binding)
		pod, err := cs.Tracker().Get(corev1.SchemeGroupVersion.WithResource("pods"), "default", b.Name)
		if err != nil {
			return true, nil, err
		}
		p := pod.(*corev1.Pod).DeepCopy()
		p.Spec.NodeName = b.Target.Name
		p.ResourceVersion = strconv.FormatInt(rv.Add(1), 10)
		return true, nil, cs.Tracker().Update(corev1.SchemeGroupVersion.WithResource("pods"), p, "default")
	})
	versioned(cs)
	rate, err := bindFloor(context.Background(), cs, schedBatch{prefix: "f", pods: 4}, 3)
	if err != nil || rate <= 0 {
		t.Fatalf("rate %v, err %v", rate, err)
	}
	for i, node := range []string{"sched-node-0", "sched-node-1", "sched-node-2", "sched-node-0"} {
		p, err := cs.CoreV1().Pods("default").Get(context.Background(), fmt.Sprintf("f-%d", i), metav1.GetOptions{})
		if err != nil || p.Spec.NodeName != node || p.Spec.SchedulerName == "" || p.Spec.SchedulerName == corev1.DefaultSchedulerName {
			t.Errorf("pod f-%d: node %q scheduler %q (%v), want %s and no scheduler's name", i, p.Spec.NodeName, p.Spec.SchedulerName, err, node)
		}
	}
}

func TestUpstreamSchedulingRefusesImpossibleBatches(t *testing.T) {
	for _, c := range []struct{ pods, nodes int }{{0, 10}, {1, 10}, {500, 0}, {1101, 10}} {
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
