package replicaset

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kinns/kinns/controlplane/controllers/internal/claim"
)

// claimPods returns the pods rs controls after reconciling ownership with
// its selector (ControllerRef semantics, see package claim).
func (c *Controller) claimPods(ctx context.Context, rs *appsv1.ReplicaSet, sel labels.Selector, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	owner := claim.Owner{Object: rs, Kind: controllerKind, Selector: sel,
		Recheck: func(ctx context.Context) (metav1.Object, error) {
			return c.client.AppsV1().ReplicaSets(rs.Namespace).Get(ctx, rs.Name, metav1.GetOptions{})
		}}
	return claim.Claim(ctx, owner, pods, c.patchOwner)
}

// patchOwner applies an ownership patch to a pod.
func (c *Controller) patchOwner(ctx context.Context, p *corev1.Pod, patch []byte) (*corev1.Pod, bool, error) {
	patched, err := c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, true, nil
	case err != nil:
		return nil, false, fmt.Errorf("patch owner of pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	return patched, false, nil
}
