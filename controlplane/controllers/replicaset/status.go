package replicaset

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// calculateStatus derives rs's status from the active pods it controls at
// now. manageErr, the outcome of this sync's create/delete calls, sets or
// clears the ReplicaFailure condition.
func calculateStatus(rs *appsv1.ReplicaSet, pods []*corev1.Pod, manageErr error, now time.Time) appsv1.ReplicaSetStatus {
	st := *rs.Status.DeepCopy()
	templateLabels := labels.SelectorFromSet(rs.Spec.Template.Labels)
	var fully, ready, available int32
	for _, p := range pods {
		if templateLabels.Matches(labels.Set(p.Labels)) {
			fully++
		}
		if ok, _ := podReadySince(p); ok {
			ready++
		}
		if isAvailable(p, rs.Spec.MinReadySeconds, now) {
			available++
		}
	}
	st.Replicas = int32(len(pods))
	st.FullyLabeledReplicas = fully
	st.ReadyReplicas = ready
	st.AvailableReplicas = available
	st.ObservedGeneration = rs.Generation
	st.Conditions = failureConditions(st.Conditions, rs, len(pods), manageErr, now)
	return st
}

// failureConditions sets ReplicaFailure while create/delete calls fail and
// removes it once they succeed again.
func failureConditions(conds []appsv1.ReplicaSetCondition, rs *appsv1.ReplicaSet, active int, manageErr error, now time.Time) []appsv1.ReplicaSetCondition {
	var kept []appsv1.ReplicaSetCondition
	var failure *appsv1.ReplicaSetCondition
	for i := range conds {
		if conds[i].Type == appsv1.ReplicaSetReplicaFailure {
			failure = &conds[i]
			continue
		}
		kept = append(kept, conds[i])
	}
	if manageErr == nil {
		return kept
	}
	if failure != nil {
		return conds // keep the first failure's time and message
	}
	reason := "FailedCreate"
	if active > int(replicas(rs)) {
		reason = "FailedDelete"
	}
	return append(kept, appsv1.ReplicaSetCondition{
		Type:               appsv1.ReplicaSetReplicaFailure,
		Status:             corev1.ConditionTrue,
		LastTransitionTime: metav1.NewTime(now),
		Reason:             reason,
		Message:            manageErr.Error(),
	})
}

// updateStatus writes status through the status subresource unless it is
// already there, retrying once on a conflict with a fresh copy. rs is a
// private copy and may be modified.
func (c *Controller) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet, status appsv1.ReplicaSetStatus) (*appsv1.ReplicaSet, error) {
	if apiequality.Semantic.DeepEqual(rs.Status, status) {
		return rs, nil
	}
	client := c.client.AppsV1().ReplicaSets(rs.Namespace)
	for attempt := 0; ; attempt++ {
		rs.Status = status
		updated, err := client.UpdateStatus(ctx, rs, metav1.UpdateOptions{})
		if err == nil {
			return updated, nil
		}
		if attempt > 0 || !apierrors.IsConflict(err) {
			return nil, fmt.Errorf("update status of replicaset %s/%s: %w", rs.Namespace, rs.Name, err)
		}
		fresh, getErr := client.Get(ctx, rs.Name, metav1.GetOptions{})
		if getErr != nil {
			return nil, fmt.Errorf("update status of replicaset %s/%s: %w", rs.Namespace, rs.Name, getErr)
		}
		rs = fresh
	}
}
