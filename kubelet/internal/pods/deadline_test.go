package pods

import (
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kinns/kinns/kubelet/runtime"
)

// activeDeadlineSeconds: the pod runs until startTime plus the deadline
// (decide wakes the worker then), and past it everything is killed and
// nothing restarts.
func TestDecideActiveDeadline(t *testing.T) {
	deadline := func(secs int64, started bool) func(*v1.Pod) {
		return func(p *v1.Pod) {
			p.Spec.ActiveDeadlineSeconds = &secs
			if started {
				p.Status.StartTime = &metav1.Time{Time: t0}
			}
		}
	}
	b := newRestartBackoff(time.Second, time.Second, 0)
	rs := groupRuns([]runtime.Container{mkRun("app", 0, "running")})
	for _, tc := range []struct {
		name     string
		mut      func(*v1.Pod)
		now      time.Time
		want     string
		exceeded bool
		requeue  time.Duration
	}{
		{name: "no deadline", now: t0.Add(time.Hour)},
		{name: "not started yet", mut: deadline(5, false), now: t0.Add(time.Hour)},
		{name: "within", mut: deadline(5, true), now: t0.Add(2 * time.Second), requeue: 3 * time.Second},
		{name: "at the deadline", mut: deadline(5, true), now: t0.Add(5 * time.Second), want: "kill app-0", exceeded: true},
		{name: "shortened past it", mut: deadline(1, true), now: t0.Add(10 * time.Second), want: "kill app-0", exceeded: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := testPod("p")
			if tc.mut != nil {
				tc.mut(pod)
			}
			p := decide(decideInput{pod: pod, runs: rs, backoff: b, now: tc.now})
			if got := describe(p); got != tc.want || p.deadlineExceeded != tc.exceeded || p.done != tc.exceeded || p.requeue != tc.requeue {
				t.Errorf("plan %q exceeded=%v done=%v requeue=%s; want %q exceeded=%v requeue=%s",
					got, p.deadlineExceeded, p.done, p.requeue, tc.want, tc.exceeded, tc.requeue)
			}
		})
	}
}

// A pod past its deadline is Failed with upstream's reason and message,
// even when its container stopped cleanly on SIGTERM.
func TestStatusDeadlineExceeded(t *testing.T) {
	pod := testPod("p")
	st := podStatus(statusInput{pod: pod, runs: groupRuns([]runtime.Container{mkRun("app", 0, "exit:0")}), deadlineExceeded: true, now: t0})
	if st.Phase != v1.PodFailed || st.Reason != "DeadlineExceeded" || st.Message != "Pod was active on the node longer than the specified deadline" {
		t.Errorf("phase %s reason %q message %q", st.Phase, st.Reason, st.Message)
	}
}
