package deployment

import (
	"context"
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

// replicaSetsFor returns private copies of the ReplicaSets d controls,
// after adopting matching orphans and releasing owned sets that no longer
// match (ControllerRef semantics). The copies may be modified freely.
func (c *Controller) replicaSetsFor(ctx context.Context, d *appsv1.Deployment, sel labels.Selector) ([]*appsv1.ReplicaSet, error) {
	list, err := c.rsLister.ReplicaSets(d.Namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("list replicasets of %s: %w", key(d), err)
	}
	canAdopt := c.adoptionCheck(ctx, d)
	var owned []*appsv1.ReplicaSet
	var errs []error
	for _, rs := range list {
		matches := sel.Matches(labels.Set(rs.Labels))
		ref := metav1.GetControllerOf(rs)
		switch {
		case ref != nil && ref.UID != d.UID:
		case ref != nil && matches:
			owned = append(owned, rs.DeepCopy())
		case ref != nil:
			if d.DeletionTimestamp == nil {
				_, err := c.patchOwner(ctx, rs, releasePatch(d, rs))
				errs = append(errs, err)
			}
		case matches && d.DeletionTimestamp == nil && rs.DeletionTimestamp == nil:
			if err := canAdopt(); err != nil {
				errs = append(errs, err)
				continue
			}
			adopted, err := c.patchOwner(ctx, rs, adoptPatch(d, rs))
			if adopted != nil {
				owned = append(owned, adopted)
			}
			errs = append(errs, err)
		}
	}
	return owned, utilerrors.NewAggregate(errs)
}

// adoptionCheck confirms once, with a live read, that d still exists and
// is not being deleted before anything is adopted for it.
func (c *Controller) adoptionCheck(ctx context.Context, d *appsv1.Deployment) func() error {
	var done bool
	var result error
	return func() error {
		if done {
			return result
		}
		done = true
		fresh, err := c.client.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
		switch {
		case err != nil:
			result = fmt.Errorf("recheck deployment %s before adoption: %w", key(d), err)
		case fresh.UID != d.UID:
			result = fmt.Errorf("deployment %s was replaced (uid %s, want %s)", key(d), fresh.UID, d.UID)
		case fresh.DeletionTimestamp != nil:
			result = fmt.Errorf("deployment %s is being deleted", key(d))
		}
		return result
	}
}

// patchOwner applies an ownership patch and returns the patched set, or
// nil if it is gone (which needs nothing more).
func (c *Controller) patchOwner(ctx context.Context, rs *appsv1.ReplicaSet, patch []byte) (*appsv1.ReplicaSet, error) {
	patched, err := c.client.AppsV1().ReplicaSets(rs.Namespace).Patch(ctx, rs.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("patch owner of replicaset %s/%s: %w", rs.Namespace, rs.Name, err)
	}
	return patched, nil
}

// adoptPatch makes d the controller of rs; rs's UID is a precondition.
func adoptPatch(d *appsv1.Deployment, rs *appsv1.ReplicaSet) []byte {
	return mustJSON(map[string]any{"metadata": map[string]any{
		"ownerReferences": []any{metav1.NewControllerRef(d, controllerKind)},
		"uid":             rs.UID,
	}})
}

// releasePatch removes d's reference from rs, keeping other owners.
func releasePatch(d *appsv1.Deployment, rs *appsv1.ReplicaSet) []byte {
	return mustJSON(map[string]any{"metadata": map[string]any{
		"ownerReferences": []any{map[string]any{"$patch": "delete", "uid": d.UID}},
		"uid":             rs.UID,
	}})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal patch: %v", err)) // only maps of strings and refs
	}
	return b
}
