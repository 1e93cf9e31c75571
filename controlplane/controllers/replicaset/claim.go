package replicaset

import (
	"context"
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

// claimPods returns the pods rs controls after reconciling ownership with
// its selector (ControllerRef semantics): pods it owns that still match
// are kept, pods it owns that no longer match are released, orphans that
// match are adopted, pods owned by anything else are left alone. A
// ReplicaSet being deleted neither adopts nor releases.
func (c *Controller) claimPods(ctx context.Context, rs *appsv1.ReplicaSet, sel labels.Selector, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	canAdopt := c.adoptionCheck(ctx, rs)
	var claimed []*corev1.Pod
	var errs []error
	for _, p := range pods {
		matches := sel.Matches(labels.Set(p.Labels))
		ref := metav1.GetControllerOf(p)
		switch {
		case ref != nil && ref.UID != rs.UID:
			continue
		case ref != nil && matches:
			claimed = append(claimed, p)
		case ref != nil:
			if rs.DeletionTimestamp == nil {
				errs = append(errs, c.patchOwner(ctx, p, releasePatch(rs, p)))
			}
		case matches && rs.DeletionTimestamp == nil && p.DeletionTimestamp == nil:
			if err := canAdopt(); err != nil {
				errs = append(errs, err)
				continue
			}
			err := c.patchOwner(ctx, p, adoptPatch(rs, p))
			if err == nil {
				claimed = append(claimed, p)
			}
			errs = append(errs, err)
		}
	}
	return claimed, utilerrors.NewAggregate(errs)
}

// adoptionCheck returns a function that confirms, once, with a live read,
// that rs still exists and is not being deleted: the cache may lag behind
// a deletion, and adopting for a dead owner would orphan pods again.
func (c *Controller) adoptionCheck(ctx context.Context, rs *appsv1.ReplicaSet) func() error {
	var done bool
	var result error
	return func() error {
		if done {
			return result
		}
		done = true
		fresh, err := c.client.AppsV1().ReplicaSets(rs.Namespace).Get(ctx, rs.Name, metav1.GetOptions{})
		switch {
		case err != nil:
			result = fmt.Errorf("recheck replicaset %s/%s before adoption: %w", rs.Namespace, rs.Name, err)
		case fresh.UID != rs.UID:
			result = fmt.Errorf("replicaset %s/%s was replaced (uid %s, want %s)", rs.Namespace, rs.Name, fresh.UID, rs.UID)
		case fresh.DeletionTimestamp != nil:
			result = fmt.Errorf("replicaset %s/%s is being deleted", rs.Namespace, rs.Name)
		}
		return result
	}
}

// patchOwner applies an ownership patch; a pod that disappeared meanwhile
// needs nothing more.
func (c *Controller) patchOwner(ctx context.Context, p *corev1.Pod, patch []byte) error {
	_, err := c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("patch owner of pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	return nil
}

// adoptPatch adds rs as controller of p. The pod's UID in the patch is a
// precondition: a pod recreated under the same name is not adopted.
func adoptPatch(rs *appsv1.ReplicaSet, p *corev1.Pod) []byte {
	ref := metav1.NewControllerRef(rs, controllerKind)
	return mustJSON(map[string]any{"metadata": map[string]any{
		"ownerReferences": []any{ref},
		"uid":             p.UID,
	}})
}

// releasePatch removes rs's reference from p, keeping other owners.
func releasePatch(rs *appsv1.ReplicaSet, p *corev1.Pod) []byte {
	return mustJSON(map[string]any{"metadata": map[string]any{
		"ownerReferences": []any{map[string]any{"$patch": "delete", "uid": rs.UID}},
		"uid":             p.UID,
	}})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal patch: %v", err)) // only maps of strings and refs
	}
	return b
}
