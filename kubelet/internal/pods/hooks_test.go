package pods

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kinns/kinns/kubelet/probe"
)

// A failed postStart hook stops the run, which restarts by its policy; a
// preStop hook runs before the stop of a deletion, inside the grace period.
func TestLifecycleHooks(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	tk := startTestKubelet(t)
	tk.k.probe = func(ctx context.Context, pod *v1.Pod, c *v1.Container, p *v1.Probe, podIP, runID string) (probe.Result, string) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, p.Exec.Command[0]+"@"+runID)
		if p.Exec.Command[0] == "post" && len(calls) == 1 {
			return probe.Failure, "command \"post\" exited with 1"
		}
		return probe.Success, ""
	}
	tk.create(t, testPod("hooks", func(p *v1.Pod) {
		p.Spec.Containers[0].Lifecycle = &v1.Lifecycle{
			PostStart: &v1.LifecycleHandler{Exec: &v1.ExecAction{Command: []string{"post"}}},
			PreStop:   &v1.LifecycleHandler{Exec: &v1.ExecAction{Command: []string{"pre"}}},
		}
	}))
	p := tk.waitPod(t, "hooks", "ready after the failed postStart's restart", func(p *v1.Pod) bool {
		return podIsReady(p) && appStatus(p).RestartCount == 1
	})
	run, _ := tk.rt.running("app")
	now, grace := metav1.Now(), int64(7)
	p.DeletionTimestamp, p.DeletionGracePeriodSeconds = &now, &grace
	if _, err := tk.client.CoreV1().Pods("default").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pod deleted", func() bool {
		_, err := tk.client.CoreV1().Pods("default").Get(context.Background(), "hooks", metav1.GetOptions{})
		return err != nil
	})
	mu.Lock()
	got := slices.Clone(calls)
	mu.Unlock()
	if len(got) != 4 || got[0][:5] != "post@" || got[1][:4] != "pre@" || got[2] != "post@"+run.ID || got[3] != "pre@"+run.ID {
		t.Errorf("hook calls %v, want post (failed) and pre of the first run, then post and pre of %s", got, run.ID)
	}
	tk.rt.mu.Lock()
	g := tk.rt.stops[run.ID]
	tk.rt.mu.Unlock()
	if g > 7*time.Second || g < 6*time.Second {
		t.Errorf("stopped with grace %s, want what preStop left of 7s", g)
	}
}
