package replicaset

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// sync brings one ReplicaSet to its desired pod count and records what it
// sees in its status. It is level-based: it reads the current state from
// the listers each time and never modifies cached objects.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // not a key we made; retrying cannot help
	}
	cached, err := c.rsLister.ReplicaSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.exp.forget(key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("get replicaset %s: %w", key, err)
	}
	sel, err := selectorOf(cached)
	if err != nil {
		c.log.Error("skip replicaset", "replicaset", key, "err", err)
		return nil
	}
	// Decide before listing: a pod seen by the lister after this point is
	// at least as new as what the expectations account for.
	trustLister := c.exp.satisfied(key, cached.UID) && cached.DeletionTimestamp == nil

	all, err := c.podLister.Pods(ns).List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list pods of %s: %w", key, err)
	}
	pods, err := c.claimPods(ctx, cached, sel, activePods(all))
	if err != nil {
		return err
	}
	var manageErr error
	if trustLister {
		manageErr = c.manageReplicas(ctx, key, cached, pods)
	}
	rs := cached.DeepCopy()
	status := calculateStatus(rs, pods, manageErr, c.clock.Now())
	updated, err := c.updateStatus(ctx, rs, status)
	if err != nil {
		return errors.Join(manageErr, err)
	}
	if manageErr == nil && updated.Spec.MinReadySeconds > 0 &&
		updated.Status.ReadyReplicas == replicas(updated) &&
		updated.Status.AvailableReplicas != replicas(updated) {
		// Ready pods become available with time alone, without an event.
		c.queue.AddAfter(key, time.Duration(updated.Spec.MinReadySeconds)*time.Second)
	}
	return manageErr
}

func replicas(rs *appsv1.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}

func activePods(pods []*corev1.Pod) []*corev1.Pod {
	out := make([]*corev1.Pod, 0, len(pods))
	for _, p := range pods {
		if isActive(p) {
			out = append(out, p)
		}
	}
	return out
}

// manageReplicas creates or deletes pods so that len(pods) reaches
// spec.replicas, at most burstReplicas at a time, after recording the
// expectations that keep the next sync from acting on a stale lister.
func (c *Controller) manageReplicas(ctx context.Context, key string, rs *appsv1.ReplicaSet, pods []*corev1.Pod) error {
	diff := len(pods) - int(replicas(rs))
	switch {
	case diff < 0:
		n := min(-diff, burstReplicas)
		c.exp.expectCreations(key, rs.UID, n)
		created, err := slowStart(n, func() error { return c.createPod(ctx, rs) })
		for range n - created {
			// Never created, so never observed.
			c.exp.creationObserved(key, rs.UID)
		}
		if errors.Is(err, errNamespaceTerminating) {
			return nil
		}
		return err
	case diff > 0:
		victims := podsToDelete(pods, min(diff, burstReplicas), c.clock.Now())
		keys := make([]string, len(victims))
		for i, p := range victims {
			keys[i] = podKey(p)
		}
		c.exp.expectDeletions(key, rs.UID, keys)
		return c.deletePods(ctx, key, rs, victims)
	}
	return nil
}

var errNamespaceTerminating = errors.New("namespace is terminating")

// createPod creates one pod from rs's template and reports the outcome as
// an event.
func (c *Controller) createPod(ctx context.Context, rs *appsv1.ReplicaSet) error {
	pod, err := c.client.CoreV1().Pods(rs.Namespace).Create(ctx, newPod(rs), metav1.CreateOptions{})
	if err != nil {
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return errNamespaceTerminating
		}
		c.rec.Eventf(rs, nil, corev1.EventTypeWarning, "FailedCreate", "Create", "Error creating: %v", err)
		return fmt.Errorf("create pod for replicaset %s/%s: %w", rs.Namespace, rs.Name, err)
	}
	c.log.Debug("created pod", "replicaset", rsKey(rs), "pod", pod.Name)
	c.rec.Eventf(rs, pod, corev1.EventTypeNormal, "SuccessfulCreate", "Create", "Created pod: %v", pod.Name)
	return nil
}

// deletePods deletes victims in parallel. A deletion that fails will not be
// observed, so its expectation is settled here.
func (c *Controller) deletePods(ctx context.Context, key string, rs *appsv1.ReplicaSet, victims []*corev1.Pod) error {
	var wg sync.WaitGroup
	errs := make([]error, len(victims))
	for i, p := range victims {
		wg.Go(func() {
			err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
				Preconditions: &metav1.Preconditions{UID: &p.UID},
			})
			switch {
			case err == nil:
				c.rec.Eventf(rs, p, corev1.EventTypeNormal, "SuccessfulDelete", "Delete", "Deleted pod: %v", p.Name)
			case apierrors.IsNotFound(err):
				// Already gone; the informer reports it.
			default:
				c.exp.deletionObserved(key, rs.UID, podKey(p))
				c.rec.Eventf(rs, p, corev1.EventTypeWarning, "FailedDelete", "Delete", "Error deleting: %v", err)
				errs[i] = fmt.Errorf("delete pod %s/%s: %w", p.Namespace, p.Name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// slowStart calls fn n times in parallel batches of 1, 2, 4, … and stops
// after the first batch with a failure, so a systematic error (quota,
// admission) costs a few calls instead of n. It returns how many calls
// succeeded and the first error.
func slowStart(n int, fn func() error) (int, error) {
	done := 0
	for batch := min(n, 1); done < n; batch = min(2*batch, n-done) {
		errs := make(chan error, batch)
		var wg sync.WaitGroup
		for range batch {
			wg.Go(func() { errs <- fn() })
		}
		wg.Wait()
		close(errs)
		var first error
		for err := range errs {
			if err == nil {
				done++
			} else if first == nil {
				first = err
			}
		}
		if first != nil {
			return done, first
		}
	}
	return done, nil
}
