package scheduler

import (
	"context"
	"encoding/json"
	"fmt"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Event fields as kube-scheduler writes them.
const (
	reasonFailedScheduling = "FailedScheduling"
	actionScheduling       = "Scheduling"
	// maxNoteBytes is the API server's limit on an event's note.
	maxNoteBytes = 1024
	msgGated     = "Scheduling is blocked due to non-empty scheduling gates"
)

// reportFailure tells the user why pod stays pending: a FailedScheduling
// event and the PodScheduled=False condition with reason and message. API
// errors are logged only; the next attempt reports again.
func (s *scheduler) reportFailure(ctx context.Context, pod *v1.Pod, reason, message string) {
	s.recorder.Eventf(pod, nil, v1.EventTypeWarning, reasonFailedScheduling, actionScheduling, "%s", truncate(message, maxNoteBytes))
	s.setScheduledCondition(ctx, pod, reason, message)
}

// reportGated sets the condition kube-scheduler sets on a gated pod; no event.
func (s *scheduler) reportGated(ctx context.Context, pod *v1.Pod) {
	s.setScheduledCondition(ctx, pod, v1.PodReasonSchedulingGated, msgGated)
}

// setScheduledCondition patches PodScheduled=False through pods/status,
// unless the pod already says exactly that.
func (s *scheduler) setScheduledCondition(ctx context.Context, pod *v1.Pod, reason, message string) {
	patch, changed := scheduledConditionPatch(pod, reason, message, metav1.NewTime(s.now()))
	if !changed {
		return
	}
	s.log.Info("pod stays pending", "pod", podKey(pod), "reason", reason, "message", message)
	_, err := s.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil && ctx.Err() == nil {
		s.log.Warn("set pod condition", "pod", podKey(pod), "reason", reason, "err", err)
	}
}

// scheduledConditionPatch returns a strategic merge patch that sets the
// PodScheduled condition of pod to False with reason and message (conditions
// merge by type, so the others are kept), and whether it changes anything.
// The transition time moves only when the status does. The UID precondition
// keeps the patch off a pod recreated under the same name.
func scheduledConditionPatch(pod *v1.Pod, reason, message string, now metav1.Time) ([]byte, bool) {
	cond := v1.PodCondition{
		Type: v1.PodScheduled, Status: v1.ConditionFalse, Reason: reason, Message: message,
		ObservedGeneration: pod.Generation, LastTransitionTime: now,
	}
	for _, c := range pod.Status.Conditions {
		if c.Type != v1.PodScheduled {
			continue
		}
		if c.Status == cond.Status && c.Reason == reason && c.Message == message && c.ObservedGeneration == cond.ObservedGeneration {
			return nil, false
		}
		if c.Status == cond.Status {
			cond.LastTransitionTime = c.LastTransitionTime
		}
	}
	patch := map[string]any{"status": map[string]any{"conditions": []v1.PodCondition{cond}}}
	if pod.UID != "" {
		patch["metadata"] = map[string]any{"uid": pod.UID}
	}
	out, err := json.Marshal(patch)
	if err != nil {
		panic(fmt.Sprintf("marshal pod condition patch: %v", err)) // plain data: cannot fail
	}
	return out, true
}

// truncate cuts s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("...")
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "..."
}
