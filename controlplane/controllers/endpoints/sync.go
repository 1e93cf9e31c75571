package endpoints

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// Sync brings the endpoints of the Service with key namespace/name to what
// its selector and its pods say. It is level-based: it reads only the
// informers' caches and the key, so calling it again is always safe.
func (c *Controller) Sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // a malformed key never becomes valid
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		svc = nil
	} else if err != nil {
		return err
	}
	var pods []*corev1.Pod
	if wanted(svc) {
		if pods, err = c.pods.Pods(ns).List(labels.SelectorFromSet(svc.Spec.Selector)); err != nil {
			return err
		}
	} else {
		svc = nil // no selector: somebody else owns its endpoints; drop ours
	}
	var errs []error
	if c.slices {
		errs = append(errs, c.syncSlices(ctx, ns, name, svc, pods))
	}
	if c.legacy {
		errs = append(errs, c.syncEndpoints(ctx, ns, name, svc, pods))
	}
	if err := errors.Join(errs...); err != nil {
		if svc != nil {
			c.rec.Eventf(svc, nil, corev1.EventTypeWarning, "FailedToUpdateEndpoints", "Sync", "%v", err)
		}
		return fmt.Errorf("sync endpoints of service %q: %w", key, err)
	}
	return nil
}

// wanted says whether the controller publishes endpoints for svc: it exists,
// selects pods and is not an ExternalName alias.
func wanted(svc *corev1.Service) bool {
	return svc != nil && svc.Spec.Selector != nil && svc.Spec.Type != corev1.ServiceTypeExternalName
}

// syncSlices creates, updates and deletes the Service's managed slices; svc
// nil means it should have none.
func (c *Controller) syncSlices(ctx context.Context, ns, name string, svc *corev1.Service, pods []*corev1.Pod) error {
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name, discoveryv1.LabelManagedBy: SliceManager})
	current, err := c.sliceL.EndpointSlices(ns).List(sel)
	if err != nil {
		return err
	}
	have := map[string]*discoveryv1.EndpointSlice{}
	for _, s := range current {
		have[s.Name] = s
	}
	var want []*discoveryv1.EndpointSlice
	if svc != nil {
		want = DesiredSlices(svc, pods)
	}
	api := c.client.DiscoveryV1().EndpointSlices(ns)
	var errs []error
	// A stale slice without endpoints (the placeholder of a Service that had
	// no pods) goes before the new slices come: left until after, a reader
	// between the two would see every endpoint and an extra slice with no
	// ports. Upstream avoids the same moment by turning the placeholder into
	// one of the new slices; names here are stable for their contents (see
	// sliceName), so it is deleted instead. A stale slice with endpoints
	// goes after, so that traffic never finds none.
	wanted := map[string]bool{}
	for _, w := range want {
		wanted[w.Name] = true
	}
	for name, stale := range have {
		if !wanted[name] && len(stale.Endpoints) == 0 {
			errs = append(errs, ignoreNotFound(api.Delete(ctx, name, metav1.DeleteOptions{})))
			delete(have, name)
		}
	}
	for _, w := range want {
		cur, ok := have[w.Name]
		delete(have, w.Name)
		switch {
		case !ok:
			_, err = api.Create(ctx, w, metav1.CreateOptions{})
		case cur.AddressType != w.AddressType:
			err = replaceSlice(ctx, c, cur, w)
		case !sameSlice(cur, w):
			upd := cur.DeepCopy()
			upd.Labels, upd.OwnerReferences, upd.Endpoints, upd.Ports = w.Labels, w.OwnerReferences, w.Endpoints, w.Ports
			_, err = api.Update(ctx, upd, metav1.UpdateOptions{})
		default:
			err = nil
		}
		errs = append(errs, err)
	}
	for _, stale := range have {
		errs = append(errs, ignoreNotFound(api.Delete(ctx, stale.Name, metav1.DeleteOptions{})))
	}
	return errors.Join(errs...)
}

func replaceSlice(ctx context.Context, c *Controller, cur, w *discoveryv1.EndpointSlice) error {
	api := c.client.DiscoveryV1().EndpointSlices(cur.Namespace)
	if err := ignoreNotFound(api.Delete(ctx, cur.Name, metav1.DeleteOptions{})); err != nil {
		return err
	}
	_, err := api.Create(ctx, w, metav1.CreateOptions{})
	return err
}

func sameSlice(a, b *discoveryv1.EndpointSlice) bool {
	return equality.Semantic.DeepEqual(a.Labels, b.Labels) &&
		equality.Semantic.DeepEqual(a.OwnerReferences, b.OwnerReferences) &&
		equality.Semantic.DeepEqual(a.Endpoints, b.Endpoints) &&
		equality.Semantic.DeepEqual(a.Ports, b.Ports)
}

// syncEndpoints writes or deletes the Service's managed Endpoints object; an
// Endpoints without our managed-by label belongs to someone else and is left
// alone.
func (c *Controller) syncEndpoints(ctx context.Context, ns, name string, svc *corev1.Service, pods []*corev1.Pod) error {
	cur, err := c.epL.Endpoints(ns).Get(name)
	if apierrors.IsNotFound(err) {
		cur = nil
	} else if err != nil {
		return err
	}
	api := c.client.CoreV1().Endpoints(ns)
	if svc == nil {
		if cur == nil || cur.Labels[EndpointsManagedByLabel] != EndpointsManager {
			return nil
		}
		return ignoreNotFound(api.Delete(ctx, name, metav1.DeleteOptions{}))
	}
	want := DesiredEndpoints(svc, pods)
	if cur == nil {
		_, err = api.Create(ctx, want, metav1.CreateOptions{})
		return err
	}
	if equality.Semantic.DeepEqual(cur.Labels, want.Labels) && equality.Semantic.DeepEqual(cur.Subsets, want.Subsets) {
		return nil
	}
	upd := cur.DeepCopy()
	upd.Labels, upd.Subsets = want.Labels, want.Subsets
	_, err = api.Update(ctx, upd, metav1.UpdateOptions{})
	return err
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
