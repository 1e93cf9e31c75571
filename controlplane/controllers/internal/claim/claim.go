// Package claim reconciles which objects a controller owns, with Kubernetes'
// ControllerRef semantics, for any owner and any kind of dependent: the
// ReplicaSet controller claims pods with it, the Deployment controller
// ReplicaSets.
//
//	owned, err := claim.Claim(ctx, claim.Owner{Object: rs, Kind: kind, Selector: sel, Recheck: get}, pods, patchPod)
package claim

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

// Owner is the controller object that claims dependents.
type Owner struct {
	Object   metav1.Object
	Kind     schema.GroupVersionKind
	Selector labels.Selector
	// Recheck reads the owner live. It is called at most once, before the
	// first adoption: the cache may lag behind a deletion, and adopting for a
	// dead owner would orphan the dependents again.
	Recheck func(ctx context.Context) (metav1.Object, error)
}

// Patch applies an ownership patch (strategic merge) to obj and returns the
// patched object; gone reports that obj no longer exists, which needs nothing
// more.
type Patch[T metav1.Object] func(ctx context.Context, obj T, patch []byte) (patched T, gone bool, err error)

// Claim returns the dependents o controls after reconciling ownership with its
// selector: owned ones that still match are kept, owned ones that no longer
// match are released, matching orphans are adopted (the patched object is
// returned for those), and those of another controller are left alone. An
// owner being deleted neither adopts nor releases. Objects are returned as
// given: callers copy them before changing them.
func Claim[T metav1.Object](ctx context.Context, o Owner, objs []T, patch Patch[T]) ([]T, error) {
	canAdopt := o.recheckOnce(ctx)
	owner := o.Object
	var owned []T
	var errs []error
	for _, obj := range objs {
		matches := o.Selector.Matches(labels.Set(obj.GetLabels()))
		ref := metav1.GetControllerOfNoCopy(obj)
		switch {
		case ref != nil && ref.UID != owner.GetUID():
		case ref != nil && matches:
			owned = append(owned, obj)
		case ref != nil:
			if owner.GetDeletionTimestamp() == nil {
				_, _, err := patch(ctx, obj, ReleasePatch(owner, obj))
				errs = append(errs, wrap(err, "release", obj))
			}
		case matches && owner.GetDeletionTimestamp() == nil && obj.GetDeletionTimestamp() == nil:
			if err := canAdopt(); err != nil {
				errs = append(errs, err)
				continue
			}
			adopted, gone, err := patch(ctx, obj, AdoptPatch(owner, o.Kind, obj))
			if err == nil && !gone {
				owned = append(owned, adopted)
			}
			errs = append(errs, wrap(err, "adopt", obj))
		}
	}
	return owned, utilerrors.NewAggregate(errs)
}

func wrap(err error, verb string, obj metav1.Object) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s %s/%s: %w", verb, obj.GetNamespace(), obj.GetName(), err)
}

func (o Owner) recheckOnce(ctx context.Context) func() error {
	var done bool
	var result error
	kind := strings.ToLower(o.Kind.Kind)
	name := o.Object.GetNamespace() + "/" + o.Object.GetName()
	return func() error {
		if done {
			return result
		}
		done = true
		fresh, err := o.Recheck(ctx)
		switch {
		case err != nil:
			result = fmt.Errorf("recheck %s %s before adoption: %w", kind, name, err)
		case fresh.GetUID() != o.Object.GetUID():
			result = fmt.Errorf("%s %s was replaced (uid %s, want %s)", kind, name, fresh.GetUID(), o.Object.GetUID())
		case fresh.GetDeletionTimestamp() != nil:
			result = fmt.Errorf("%s %s is being deleted", kind, name)
		}
		return result
	}
}

// AdoptPatch makes owner the controller of obj; obj's UID is a precondition,
// so an object recreated under the same name is not adopted.
func AdoptPatch(owner metav1.Object, kind schema.GroupVersionKind, obj metav1.Object) []byte {
	return mustJSON(map[string]any{"metadata": map[string]any{
		"ownerReferences": []any{metav1.NewControllerRef(owner, kind)},
		"uid":             obj.GetUID(),
	}})
}

// ReleasePatch removes owner's reference from obj, keeping other owners.
func ReleasePatch(owner, obj metav1.Object) []byte {
	return mustJSON(map[string]any{"metadata": map[string]any{
		"ownerReferences": []any{map[string]any{"$patch": "delete", "uid": owner.GetUID()}},
		"uid":             obj.GetUID(),
	}})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal patch: %v", err)) // only maps of strings and refs
	}
	return b
}
