package deployment

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// findNewRS returns the ReplicaSet whose template is d's current template
// (ignoring the hash label), the oldest one if several match.
func findNewRS(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	sorted := append([]*appsv1.ReplicaSet(nil), rss...)
	olderFirst(sorted)
	for _, rs := range sorted {
		if equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			return rs
		}
	}
	return nil
}

func without(rss []*appsv1.ReplicaSet, x *appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for _, rs := range rss {
		if rs != x {
			out = append(out, rs)
		}
	}
	return out
}

// rolloutSets splits d's ReplicaSets into the new one (matching the
// template) and the old ones, bringing the new one's revision up to date:
// a ReplicaSet that becomes new again (rollback, undo) gets the next
// revision. With create, a missing new ReplicaSet is created; otherwise
// newRS may be nil.
func (c *Controller) rolloutSets(ctx context.Context, d *appsv1.Deployment, rss []*appsv1.ReplicaSet, create bool) (newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet, err error) {
	newRS = findNewRS(d, rss)
	old = without(rss, newRS)
	revision := maxRevision(old) + 1
	switch {
	case newRS != nil:
		return newRS, old, c.syncNewRS(ctx, d, newRS, revision)
	case !create:
		return nil, old, nil
	}
	newRS, err = c.createNewRS(ctx, d, old, revision)
	return newRS, old, err
}

// syncNewRS updates an existing new ReplicaSet's annotations and
// minReadySeconds, and the deployment's revision and Progressing
// condition.
func (c *Controller) syncNewRS(ctx context.Context, d *appsv1.Deployment, rs *appsv1.ReplicaSet, revision int64) error {
	changed := setNewRSAnnotations(d, rs, revision, true)
	if changed || rs.Spec.MinReadySeconds != d.Spec.MinReadySeconds {
		rs.Spec.MinReadySeconds = d.Spec.MinReadySeconds
		if err := c.writeRS(ctx, rs); err != nil {
			return err
		}
	}
	needsWrite := setDeploymentRevision(d, rs.Annotations[RevisionAnnotation])
	if hasProgressDeadline(d) && getCondition(d.Status, appsv1.DeploymentProgressing) == nil {
		msg := fmt.Sprintf("Found new replica set %q", rs.Name)
		setCondition(&d.Status, condition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonFoundNewRS, msg, c.clock.Now()))
		needsWrite = true
	}
	if needsWrite {
		return c.writeStatus(ctx, d)
	}
	return nil
}

// errNamespaceTerminating stops a sync quietly: nothing can be created.
var errNamespaceTerminating = errors.New("namespace is terminating")

// errHashCollision asks for a retry after collisionCount was raised.
var errHashCollision = errors.New("pod-template-hash collision")

// createNewRS creates the ReplicaSet for d's current template, named and
// labelled by its hash and already sized for the first step of the
// rollout.
func (c *Controller) createNewRS(ctx context.Context, d *appsv1.Deployment, old []*appsv1.ReplicaSet, revision int64) (*appsv1.ReplicaSet, error) {
	rs := newReplicaSet(d)
	n := newRSReplicas(d, withNew(old, rs), rs)
	rs.Spec.Replicas = &n
	setNewRSAnnotations(d, rs, revision, false)

	created, err := c.client.AppsV1().ReplicaSets(d.Namespace).Create(ctx, rs, metav1.CreateOptions{})
	switch {
	case apierrors.IsAlreadyExists(err):
		return c.existingNewRS(ctx, d, rs.Name)
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		// The namespace controller is about to delete d too.
		return nil, errNamespaceTerminating
	case err != nil:
		msg := fmt.Sprintf("Failed to create new replica set %q: %v", rs.Name, err)
		c.rec.Eventf(d, nil, corev1.EventTypeWarning, reasonFailedRSCreateEv, "Create", "%s", msg)
		if hasProgressDeadline(d) {
			setCondition(&d.Status, condition(appsv1.DeploymentProgressing, corev1.ConditionFalse, ReasonFailedRSCreate, msg, c.clock.Now()))
			if werr := c.writeStatus(ctx, d); werr != nil {
				c.log.Info("record failed replicaset creation", "deployment", key(d), "err", werr)
			}
		}
		return nil, fmt.Errorf("create replicaset %s/%s: %w", d.Namespace, rs.Name, err)
	}
	if n > 0 {
		c.rec.Eventf(d, created, corev1.EventTypeNormal, reasonScalingRS, "Scaling",
			"Scaled up replica set %s from 0 to %d", created.Name, n)
	}
	setDeploymentRevision(d, strconv.FormatInt(revision, 10))
	if hasProgressDeadline(d) {
		msg := fmt.Sprintf("Created new replica set %q", created.Name)
		setCondition(&d.Status, condition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonNewRSCreated, msg, c.clock.Now()))
	}
	return created, c.writeStatus(ctx, d)
}

// newReplicaSet builds (without sizing) the ReplicaSet for d's template.
func newReplicaSet(d *appsv1.Deployment) *appsv1.ReplicaSet {
	hash := TemplateHash(&d.Spec.Template, d.Status.CollisionCount)
	tmpl := d.Spec.Template.DeepCopy()
	tmpl.Labels = withLabel(tmpl.Labels, hashLabel, hash)
	sel := d.Spec.Selector.DeepCopy()
	sel.MatchLabels = withLabel(sel.MatchLabels, hashLabel, hash)
	zero := int32(0)
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:            d.Name + "-" + hash,
			Namespace:       d.Namespace,
			Labels:          withLabel(d.Spec.Template.Labels, hashLabel, hash),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(d, controllerKind)},
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        &zero,
			MinReadySeconds: d.Spec.MinReadySeconds,
			Selector:        sel,
			Template:        *tmpl,
		},
	}
}

// existingNewRS handles a name clash on create. If the ReplicaSet there is
// ours with our template, the cache was just behind: use it. Otherwise two
// templates share a hash: raise collisionCount so the next attempt picks
// another name.
func (c *Controller) existingNewRS(ctx context.Context, d *appsv1.Deployment, name string) (*appsv1.ReplicaSet, error) {
	rs, err := c.client.AppsV1().ReplicaSets(d.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("get clashing replicaset %s/%s: %w", d.Namespace, name, err)
	}
	if metav1.IsControlledBy(rs, d) && equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
		return rs, nil
	}
	n := int32(1)
	if d.Status.CollisionCount != nil {
		n = *d.Status.CollisionCount + 1
	}
	d.Status.CollisionCount = &n
	if err := c.writeStatus(ctx, d); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("replicaset %s/%s: %w (collisionCount now %d)", d.Namespace, name, errHashCollision, n)
}

// writeRS writes rs (a private copy) and refreshes it with the result.
func (c *Controller) writeRS(ctx context.Context, rs *appsv1.ReplicaSet) error {
	updated, err := c.client.AppsV1().ReplicaSets(rs.Namespace).Update(ctx, rs, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("update replicaset %s/%s: %w", rs.Namespace, rs.Name, err)
	}
	*rs = *updated
	return nil
}
