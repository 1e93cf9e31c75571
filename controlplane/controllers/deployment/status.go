package deployment

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition reasons, as kubectl and users know them.
const (
	ReasonNewRSCreated     = "NewReplicaSetCreated"
	ReasonFoundNewRS       = "FoundNewReplicaSet"
	ReasonRSUpdated        = "ReplicaSetUpdated"
	ReasonNewRSAvailable   = "NewReplicaSetAvailable"
	ReasonTimedOut         = "ProgressDeadlineExceeded"
	ReasonPaused           = "DeploymentPaused"
	ReasonResumed          = "DeploymentResumed"
	ReasonFailedRSCreate   = "ReplicaSetCreateError"
	ReasonMinAvailable     = "MinimumReplicasAvailable"
	ReasonMinUnavailable   = "MinimumReplicasUnavailable"
	reasonSelectingAll     = "SelectingAll"
	reasonScalingRS        = "ScalingReplicaSet"
	reasonFailedRSCreateEv = "FailedCreate"
)

func condition(t appsv1.DeploymentConditionType, s corev1.ConditionStatus, reason, msg string, now time.Time) appsv1.DeploymentCondition {
	return appsv1.DeploymentCondition{
		Type: t, Status: s, Reason: reason, Message: msg,
		LastUpdateTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now),
	}
}

func getCondition(st appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

// setCondition replaces the condition of c's type unless it already has
// the same status and reason; the transition time survives when only the
// reason changes.
func setCondition(st *appsv1.DeploymentStatus, c appsv1.DeploymentCondition) {
	if cur := getCondition(*st, c.Type); cur != nil {
		if cur.Status == c.Status && cur.Reason == c.Reason {
			return
		}
		if cur.Status == c.Status {
			c.LastTransitionTime = cur.LastTransitionTime
		}
	}
	removeCondition(st, c.Type)
	st.Conditions = append(st.Conditions, c)
}

func removeCondition(st *appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) {
	var kept []appsv1.DeploymentCondition
	for _, c := range st.Conditions {
		if c.Type != t {
			kept = append(kept, c)
		}
	}
	st.Conditions = kept
}

// calculateStatus derives the deployment's status from its ReplicaSets.
// replicas and updatedReplicas count existing active pods (what kubectl
// rollout status waits on); unavailableReplicas counts the pods asked for
// that are not available yet.
func calculateStatus(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, now time.Time) appsv1.DeploymentStatus {
	available := sumAvailable(all)
	st := appsv1.DeploymentStatus{
		ObservedGeneration:  d.Generation,
		Replicas:            sumStatus(all),
		UpdatedReplicas:     sumStatus([]*appsv1.ReplicaSet{newRS}),
		ReadyReplicas:       sumReady(all),
		AvailableReplicas:   available,
		UnavailableReplicas: max(sumSpec(all)-available, 0),
		TerminatingReplicas: d.Status.TerminatingReplicas,
		CollisionCount:      d.Status.CollisionCount,
	}
	for _, c := range d.Status.Conditions {
		st.Conditions = append(st.Conditions, *c.DeepCopy())
	}
	if available >= replicasOf(d)-maxUnavailable(d) {
		setCondition(&st, condition(appsv1.DeploymentAvailable, corev1.ConditionTrue, ReasonMinAvailable, "Deployment has minimum availability.", now))
	} else {
		setCondition(&st, condition(appsv1.DeploymentAvailable, corev1.ConditionFalse, ReasonMinUnavailable, "Deployment does not have minimum availability.", now))
	}
	return st
}

// complete reports whether st shows the rollout of d finished: every pod
// asked for is updated and available, and no old pod is left.
func complete(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	n := replicasOf(d)
	return st.UpdatedReplicas == n && st.Replicas == n && st.AvailableReplicas == n &&
		st.ObservedGeneration >= d.Generation
}

// progressing reports whether st moved forward compared with d.Status.
func progressing(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	old := d.Status
	return st.UpdatedReplicas > old.UpdatedReplicas ||
		st.Replicas-st.UpdatedReplicas < old.Replicas-old.UpdatedReplicas ||
		st.ReadyReplicas > old.ReadyReplicas ||
		st.AvailableReplicas > old.AvailableReplicas
}

// timedOut reports whether the last progress in st is older than the
// deadline.
func timedOut(d *appsv1.Deployment, st *appsv1.DeploymentStatus, now time.Time) bool {
	if !hasProgressDeadline(d) {
		return false
	}
	c := getCondition(*st, appsv1.DeploymentProgressing)
	switch {
	case c == nil || c.Reason == ReasonNewRSAvailable:
		return false
	case c.Reason == ReasonTimedOut:
		return true
	}
	return c.LastUpdateTime.Add(deadline(d)).Before(now)
}

func deadline(d *appsv1.Deployment) time.Duration {
	return time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second
}

func subject(newRS *appsv1.ReplicaSet, d *appsv1.Deployment) string {
	if newRS != nil {
		return fmt.Sprintf("ReplicaSet %q", newRS.Name)
	}
	return fmt.Sprintf("Deployment %q", d.Name)
}

// syncRolloutStatus writes the status of a rollout in progress, moving the
// Progressing condition: NewReplicaSetAvailable once complete,
// ReplicaSetUpdated while pods move, ProgressDeadlineExceeded when nothing
// moved for progressDeadlineSeconds. While stuck it schedules the check
// of the deadline.
func (c *Controller) syncRolloutStatus(ctx context.Context, d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) error {
	now := c.clock.Now()
	st := calculateStatus(d, all, newRS, now)
	if !hasProgressDeadline(d) {
		removeCondition(&st, appsv1.DeploymentProgressing)
	}
	cur := getCondition(d.Status, appsv1.DeploymentProgressing)
	done := st.Replicas == st.UpdatedReplicas && cur != nil && cur.Reason == ReasonNewRSAvailable
	if hasProgressDeadline(d) && !done {
		who := subject(newRS, d)
		switch {
		case complete(d, &st):
			setCondition(&st, condition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonNewRSAvailable, who+" has successfully progressed.", now))
		case progressing(d, &st):
			// Unlike setCondition, refresh lastUpdateTime even when the
			// reason is unchanged: it is the start of the deadline.
			cond := condition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonRSUpdated, who+" is progressing.", now)
			if cur != nil && cur.Status == corev1.ConditionTrue {
				cond.LastTransitionTime = cur.LastTransitionTime
			}
			removeCondition(&st, appsv1.DeploymentProgressing)
			st.Conditions = append(st.Conditions, cond)
		case timedOut(d, &st, now):
			setCondition(&st, condition(appsv1.DeploymentProgressing, corev1.ConditionFalse, ReasonTimedOut, who+" has timed out progressing.", now))
		}
	}
	if apiequality.Semantic.DeepEqual(d.Status, st) {
		c.checkDeadlineLater(d, &st, now)
		return nil
	}
	d.Status = st
	return c.writeStatus(ctx, d)
}

// checkDeadlineLater requeues a deployment whose rollout is stuck so that
// ProgressDeadlineExceeded is reported on time: no event would wake it.
func (c *Controller) checkDeadlineLater(d *appsv1.Deployment, st *appsv1.DeploymentStatus, now time.Time) {
	cond := getCondition(*st, appsv1.DeploymentProgressing)
	if !hasProgressDeadline(d) || cond == nil || complete(d, st) ||
		cond.Reason == ReasonTimedOut || cond.Reason == ReasonNewRSAvailable {
		return
	}
	after := cond.LastUpdateTime.Add(deadline(d)).Sub(now)
	if after < time.Second {
		c.queue.AddRateLimited(key(d))
		return
	}
	c.queue.AddAfter(key(d), after+time.Second)
}

// syncStatus writes the status without touching Progressing (scaling,
// paused or deleted deployments).
func (c *Controller) syncStatus(ctx context.Context, d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) error {
	st := calculateStatus(d, all, newRS, c.clock.Now())
	if apiequality.Semantic.DeepEqual(d.Status, st) {
		return nil
	}
	d.Status = st
	return c.writeStatus(ctx, d)
}

// checkPausedConditions marks Progressing Unknown with DeploymentPaused or
// DeploymentResumed when spec.paused changes, so the progress deadline
// does not run while a user holds the rollout.
func (c *Controller) checkPausedConditions(ctx context.Context, d *appsv1.Deployment) error {
	if !hasProgressDeadline(d) {
		return nil
	}
	cur := getCondition(d.Status, appsv1.DeploymentProgressing)
	if cur != nil && cur.Reason == ReasonTimedOut {
		return nil
	}
	pausedCond := cur != nil && cur.Reason == ReasonPaused
	now := c.clock.Now()
	switch {
	case d.Spec.Paused && !pausedCond:
		setCondition(&d.Status, condition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, ReasonPaused, "Deployment is paused", now))
	case !d.Spec.Paused && pausedCond:
		setCondition(&d.Status, condition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, ReasonResumed, "Deployment is resumed", now))
	default:
		return nil
	}
	return c.writeStatus(ctx, d)
}

// writeStatus writes d's status (and annotations: the status subresource
// accepts metadata changes other than labels) and refreshes d with the
// result, so later writes in the same sync do not conflict.
//
// A conflict usually means only that the cache has not seen this
// controller's previous write yet. If the stored deployment still has the
// generation this sync worked from (spec and annotations unchanged; status
// writes do not bump it), the status computed here is still the right one
// and is written over the fresh copy once.
func (c *Controller) writeStatus(ctx context.Context, d *appsv1.Deployment) error {
	client := c.client.AppsV1().Deployments(d.Namespace)
	updated, err := client.UpdateStatus(ctx, d, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		fresh, getErr := client.Get(ctx, d.Name, metav1.GetOptions{})
		if getErr == nil && fresh.UID == d.UID && fresh.Generation == d.Generation {
			fresh.Status = d.Status
			setDeploymentRevision(fresh, d.Annotations[RevisionAnnotation])
			updated, err = client.UpdateStatus(ctx, fresh, metav1.UpdateOptions{})
		}
	}
	if err != nil {
		return fmt.Errorf("update status of deployment %s: %w", key(d), err)
	}
	*d = *updated
	return nil
}
