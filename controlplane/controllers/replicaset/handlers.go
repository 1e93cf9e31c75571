package replicaset

import (
	"reflect"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kinns/kinns/controlplane/controllers/internal/loop"
)

// The handlers only enqueue keys and settle expectations; every decision is
// taken by sync from the listers.

func (c *Controller) enqueue(rs *appsv1.ReplicaSet) {
	c.queue.Add(rsKey(rs))
}

func rsKey(rs *appsv1.ReplicaSet) string {
	return rs.Namespace + "/" + rs.Name
}

func (c *Controller) addRS(obj any) {
	if rs, ok := obj.(*appsv1.ReplicaSet); ok {
		c.enqueue(rs)
	}
}

func (c *Controller) updateRS(_, cur any) {
	if rs, ok := cur.(*appsv1.ReplicaSet); ok {
		c.enqueue(rs)
	}
}

func (c *Controller) deleteRS(obj any) {
	rs, ok := loop.Unwrap(obj).(*appsv1.ReplicaSet)
	if !ok {
		return
	}
	c.exp.forget(rsKey(rs))
	c.enqueue(rs)
}

// addPod settles a creation for the pod's owner, or wakes the ReplicaSets
// that may adopt an orphan.
func (c *Controller) addPod(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if pod.DeletionTimestamp != nil {
		// Seen for the first time already going away (e.g. after a
		// restart): that is a deletion, not a creation.
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		if rs := c.resolve(pod.Namespace, ref); rs != nil {
			c.exp.creationObserved(rsKey(rs), rs.UID)
			c.enqueue(rs)
		}
		return
	}
	for _, rs := range c.matchingReplicaSets(pod) {
		c.enqueue(rs)
	}
}

func (c *Controller) updatePod(oldObj, curObj any) {
	old, ok1 := oldObj.(*corev1.Pod)
	cur, ok2 := curObj.(*corev1.Pod)
	if !ok1 || !ok2 || cur.ResourceVersion == old.ResourceVersion {
		return // a resync changes nothing
	}
	labelsChanged := !reflect.DeepEqual(cur.Labels, old.Labels)
	if cur.DeletionTimestamp != nil {
		// Graceful deletion started: the pod stops counting now, so
		// settle the deletion without waiting for the final delete.
		c.deletePod(cur)
		if labelsChanged {
			c.deletePod(old)
		}
		return
	}
	curRef, oldRef := metav1.GetControllerOf(cur), metav1.GetControllerOf(old)
	refChanged := !reflect.DeepEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		if rs := c.resolve(old.Namespace, oldRef); rs != nil {
			c.enqueue(rs)
		}
	}
	if curRef != nil {
		rs := c.resolve(cur.Namespace, curRef)
		if rs == nil {
			return
		}
		c.enqueue(rs)
		oldReady, _ := podReadySince(old)
		curReady, _ := podReadySince(cur)
		if !oldReady && curReady && rs.Spec.MinReadySeconds > 0 {
			// Check again when the pod becomes available.
			c.queue.AddAfter(rsKey(rs), time.Duration(rs.Spec.MinReadySeconds)*time.Second+time.Second)
		}
		return
	}
	if labelsChanged || refChanged {
		for _, rs := range c.matchingReplicaSets(cur) {
			c.enqueue(rs)
		}
	}
}

func (c *Controller) deletePod(obj any) {
	pod, ok := loop.Unwrap(obj).(*corev1.Pod)
	if !ok {
		return
	}
	ref := metav1.GetControllerOf(pod)
	if ref == nil {
		return
	}
	rs := c.resolve(pod.Namespace, ref)
	if rs == nil {
		return
	}
	c.exp.deletionObserved(rsKey(rs), rs.UID, podKey(pod))
	c.enqueue(rs)
}

// resolve returns the ReplicaSet a controller reference points to, if it
// is still the same object (same UID).
func (c *Controller) resolve(ns string, ref *metav1.OwnerReference) *appsv1.ReplicaSet {
	if ref.Kind != controllerKind.Kind {
		return nil
	}
	rs, err := c.rsLister.ReplicaSets(ns).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return nil
	}
	return rs
}

// matchingReplicaSets lists the ReplicaSets whose selector selects pod.
func (c *Controller) matchingReplicaSets(pod *corev1.Pod) []*appsv1.ReplicaSet {
	list, err := c.rsLister.ReplicaSets(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []*appsv1.ReplicaSet
	for _, rs := range list {
		sel, err := selectorOf(rs)
		if err != nil || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		out = append(out, rs)
	}
	return out
}
