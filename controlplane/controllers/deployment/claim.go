package deployment

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kinns/kinns/controlplane/controllers/internal/claim"
)

// replicaSetsFor returns private copies of the ReplicaSets d controls,
// after adopting matching orphans and releasing owned sets that no longer
// match (ControllerRef semantics, see package claim). The copies may be
// modified freely.
func (c *Controller) replicaSetsFor(ctx context.Context, d *appsv1.Deployment, sel labels.Selector) ([]*appsv1.ReplicaSet, error) {
	list, err := c.rsLister.ReplicaSets(d.Namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("list replicasets of %s: %w", key(d), err)
	}
	owner := claim.Owner{Object: d, Kind: controllerKind, Selector: sel,
		Recheck: func(ctx context.Context) (metav1.Object, error) {
			return c.client.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
		}}
	owned, err := claim.Claim(ctx, owner, list, c.patchOwner)
	for i, rs := range owned {
		owned[i] = rs.DeepCopy() // the lister's objects are shared
	}
	return owned, err
}

// patchOwner applies an ownership patch to a ReplicaSet.
func (c *Controller) patchOwner(ctx context.Context, rs *appsv1.ReplicaSet, patch []byte) (*appsv1.ReplicaSet, bool, error) {
	patched, err := c.client.AppsV1().ReplicaSets(rs.Namespace).Patch(ctx, rs.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, true, nil
	case err != nil:
		return nil, false, fmt.Errorf("patch owner of replicaset %s/%s: %w", rs.Namespace, rs.Name, err)
	}
	return patched, false, nil
}
