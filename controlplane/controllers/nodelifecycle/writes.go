package nodelifecycle

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// The reasons and messages upstream's node lifecycle controller writes.
const (
	ReasonStatusUnknown      = "NodeStatusUnknown"
	MessageStatusUnknown     = "Kubelet stopped posting node status."
	ReasonStatusNeverUpdated = "NodeStatusNeverUpdated"
	MessageNeverUpdated      = "Kubelet never posted node status."
)

// kubeletConditions are the node conditions the kubelet owns; when it falls
// silent they all become Unknown.
var kubeletConditions = []corev1.NodeConditionType{
	corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure,
}

// unknownStatus returns the node with its kubelet conditions Unknown. The
// heartbeat times are kept, so our own write is never taken for a heartbeat.
func unknownStatus(node *corev1.Node, now time.Time) *corev1.Node {
	n := node.DeepCopy()
	t := metav1.NewTime(now)
	if readyCondition(n) == nil {
		n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{
			Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: ReasonStatusNeverUpdated,
			Message: MessageNeverUpdated, LastHeartbeatTime: n.CreationTimestamp, LastTransitionTime: t,
		})
	}
	for i := range n.Status.Conditions {
		cond := &n.Status.Conditions[i]
		if !isKubeletCondition(cond.Type) || cond.Status == corev1.ConditionUnknown {
			continue
		}
		cond.Status, cond.Reason, cond.Message, cond.LastTransitionTime = corev1.ConditionUnknown, ReasonStatusUnknown, MessageStatusUnknown, t
	}
	return n
}

func isKubeletCondition(t corev1.NodeConditionType) bool {
	for _, k := range kubeletConditions {
		if k == t {
			return true
		}
	}
	return false
}

func (c *Controller) markUnknown(ctx context.Context, node *corev1.Node, now time.Time) (*corev1.Node, error) {
	updated, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, unknownStatus(node, now), metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("update status of node %q: %w", node.Name, err)
	}
	c.log.Warn("node stopped posting status", "node", node.Name)
	c.event(updated, corev1.EventTypeNormal, "NodeNotReady", fmt.Sprintf("Node %s status is now: NodeNotReady", node.Name))
	return updated, nil
}

// markPodsNotReady sets Ready=False on the pods of a silent node, so
// Services stop sending to them before they are evicted.
func (c *Controller) markPodsNotReady(ctx context.Context, node string, now time.Time) {
	for _, pod := range c.podsOn(node) {
		i := podReadyIndex(pod)
		if i < 0 || pod.Status.Conditions[i].Status != corev1.ConditionTrue {
			continue
		}
		p := pod.DeepCopy()
		p.Status.Conditions[i].Status = corev1.ConditionFalse
		p.Status.Conditions[i].LastTransitionTime = metav1.NewTime(now)
		_, err := c.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			c.log.Info("mark pod not ready", "pod", p.Namespace+"/"+p.Name, "err", err)
			continue
		}
		c.event(p, corev1.EventTypeWarning, "NodeNotReady", "Node is not ready")
	}
}

func podReadyIndex(p *corev1.Pod) int {
	for i, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return i
		}
	}
	return -1
}

// setTaints brings the owned taints of node in line with ready. The
// kubelet updates its node every few seconds, so on a conflict the node is
// read afresh and the change made again.
func (c *Controller) setTaints(ctx context.Context, node *corev1.Node, ready corev1.ConditionStatus, mayAdd bool, now time.Time) error {
	nodes := c.client.CoreV1().Nodes()
	first := true
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if !first {
			fresh, err := nodes.Get(ctx, node.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			node = fresh
		}
		first = false
		taints, changed := reconcileTaints(node.Spec.Taints, ready, mayAdd, now)
		if !changed {
			return nil
		}
		n := node.DeepCopy()
		n.Spec.Taints = taints
		if _, err := nodes.Update(ctx, n, metav1.UpdateOptions{}); err != nil {
			return err
		}
		c.log.Info("node taints set", "node", node.Name, "ready", string(ready), "taints", len(taints))
		return nil
	})
	if err != nil {
		return fmt.Errorf("set taints of node %q: %w", node.Name, err)
	}
	return nil
}
