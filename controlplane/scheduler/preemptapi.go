package scheduler

import (
	"context"
	"encoding/json"
	"fmt"

	v1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Words of kube-scheduler's preemption, in events and conditions.
const (
	reasonPreempted          = "Preempted"
	actionPreempting         = "Preempting"
	reasonPreemptionBySched  = v1.PodReasonPreemptionByScheduler
	msgPreemptingForPriority = "%s: preempting to accommodate a higher priority pod"
)

// budgets lists the PodDisruptionBudgets preemption weighs.
func (s *scheduler) budgets() []*policyv1.PodDisruptionBudget {
	pdbs, err := s.pdbs.List(everything)
	if err != nil {
		s.log.Error("list PodDisruptionBudgets from the cache", "err", err)
		return nil
	}
	return pdbs
}

// preempt carries out pre for pod: each victim gets the DisruptionTarget
// condition and a Preempted event, then is deleted (with its own grace
// period); pod gets pre.Node as its nominated node. Once the victims are
// gone, their deletion brings pod back to the queue, and the nomination
// keeps lower-priority pods off the room meanwhile. Errors are logged: the
// next attempt preempts again if it still has to.
func (s *scheduler) preempt(ctx context.Context, pod *v1.Pod, pre Preemption) {
	s.log.Info("preempting", "pod", podKey(pod), "node", pre.Node, "victims", len(pre.Victims))
	for _, victim := range pre.Victims {
		if err := s.evict(ctx, pod, victim, pre.Node); err != nil && ctx.Err() == nil {
			s.log.Warn("preempt pod", "victim", podKey(victim), "for", podKey(pod), "err", err)
		}
	}
	patch := map[string]any{
		"metadata": map[string]any{"uid": pod.UID},
		"status":   map[string]any{"nominatedNodeName": pre.Node},
	}
	if err := s.patchStatus(ctx, pod, patch); err != nil && ctx.Err() == nil && !apierrors.IsNotFound(err) {
		s.log.Warn("set nominated node", "pod", podKey(pod), "node", pre.Node, "err", err)
	}
}

// evict marks victim as disrupted by preemption and deletes it.
func (s *scheduler) evict(ctx context.Context, preemptor, victim *v1.Pod, node string) error {
	cond := v1.PodCondition{
		Type: v1.DisruptionTarget, Status: v1.ConditionTrue, Reason: reasonPreemptionBySched,
		Message:            fmt.Sprintf(msgPreemptingForPriority, s.cfg.SchedulerName),
		LastTransitionTime: metav1.NewTime(s.now()),
	}
	patch := map[string]any{
		"metadata": map[string]any{"uid": victim.UID},
		"status":   map[string]any{"conditions": []v1.PodCondition{cond}},
	}
	if err := s.patchStatus(ctx, victim, patch); err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil // gone already, or replaced
		}
		return fmt.Errorf("set DisruptionTarget: %w", err)
	}
	s.recorder.Eventf(victim, preemptor, v1.EventTypeNormal, reasonPreempted, actionPreempting,
		"Preempted by pod %s on node %s", preemptor.UID, node)
	err := s.client.CoreV1().Pods(victim.Namespace).Delete(ctx, victim.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &victim.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete: %w", err)
	}
	return nil
}

// patchStatus applies a strategic merge patch to the pod's status.
func (s *scheduler) patchStatus(ctx context.Context, pod *v1.Pod, patch map[string]any) error {
	b, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	_, err = s.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, b, metav1.PatchOptions{}, "status")
	return err
}
