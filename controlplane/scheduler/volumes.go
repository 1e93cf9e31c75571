package scheduler

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

// FilterVolumeBinding rejects a node that a bound PersistentVolume of the
// pod cannot be used on (its node affinity), as kube-scheduler's
// VolumeBinding plugin does.
const FilterVolumeBinding Filter = "VolumeBinding"

// Volume messages, kube-scheduler's.
const (
	MsgVolumeNodeConflict   = "node(s) didn't match PersistentVolume's node affinity"
	MsgUnboundImmediatePVCs = "pod has unbound immediate PersistentVolumeClaims"
)

// AnnSelectedNode is the annotation the scheduler writes on a claim whose
// class binds WaitForFirstConsumer: the node of its first pod, where the
// provisioner makes the volume.
const AnnSelectedNode = "volume.kubernetes.io/selected-node"

// PodVolumes is what a pod's PersistentVolumeClaims ask of its node. The
// caller reads it from the cluster (ReadPodVolumes) and Schedule stays a
// pure function of it.
type PodVolumes struct {
	// Unresolvable, when set, says why no node can take the pod until a
	// claim changes: a claim is missing or being deleted, or unbound with
	// Immediate binding. It is the whole of the FitError's message.
	Unresolvable string
	// Affinity holds the node selectors a node must match: the node
	// affinity of each PV bound to a claim, and the node already selected
	// for a claim still waiting for its volume.
	Affinity []*v1.NodeSelector
	// Delayed names the unbound claims whose class binds
	// WaitForFirstConsumer and that no node was selected for yet: the
	// scheduler writes the chosen node on them (AnnSelectedNode) before it
	// binds the pod.
	Delayed []string
}

// Listers are where ReadPodVolumes reads claims, volumes and classes.
type Listers struct {
	Claims  corelisters.PersistentVolumeClaimLister
	Volumes corelisters.PersistentVolumeLister
	Classes storagelisters.StorageClassLister
}

// ReadPodVolumes reads what the claims of pod ask of its node. A PV or
// class missing from the cache is reported as unresolvable too: the claim
// or PV event that brings it retries the pod.
func ReadPodVolumes(pod *v1.Pod, l Listers) PodVolumes {
	var out PodVolumes
	for _, vol := range pod.Spec.Volumes {
		name := claimName(pod, vol)
		if name == "" {
			continue
		}
		if msg := out.addClaim(pod.Namespace, name, l); msg != "" {
			return PodVolumes{Unresolvable: msg}
		}
	}
	return out
}

// claimName is the claim a volume uses: a persistentVolumeClaim's, or the
// one an ephemeral volume's template makes (<pod>-<volume>).
func claimName(pod *v1.Pod, vol v1.Volume) string {
	switch {
	case vol.PersistentVolumeClaim != nil:
		return vol.PersistentVolumeClaim.ClaimName
	case vol.Ephemeral != nil:
		return pod.Name + "-" + vol.Name
	}
	return ""
}

// addClaim adds what one claim asks; it returns an unresolvable message.
func (pv *PodVolumes) addClaim(ns, name string, l Listers) string {
	claim, err := l.Claims.PersistentVolumeClaims(ns).Get(name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Sprintf("persistentvolumeclaim %q not found", name)
		}
		return err.Error()
	}
	if claim.DeletionTimestamp != nil {
		return fmt.Sprintf("persistentvolumeclaim %q is being deleted", name)
	}
	if claim.Spec.VolumeName != "" {
		vol, err := l.Volumes.Get(claim.Spec.VolumeName)
		if err != nil {
			return fmt.Sprintf("persistentvolume %q not found", claim.Spec.VolumeName)
		}
		if vol.Spec.NodeAffinity != nil && vol.Spec.NodeAffinity.Required != nil {
			pv.Affinity = append(pv.Affinity, vol.Spec.NodeAffinity.Required)
		}
		return ""
	}
	if node := claim.Annotations[AnnSelectedNode]; node != "" {
		pv.Affinity = append(pv.Affinity, nodeNamed(node))
		return ""
	}
	if !delayed(claim, l.Classes) {
		return MsgUnboundImmediatePVCs
	}
	pv.Delayed = append(pv.Delayed, name)
	return ""
}

// delayed says whether the class of an unbound claim binds
// WaitForFirstConsumer.
func delayed(claim *v1.PersistentVolumeClaim, classes storagelisters.StorageClassLister) bool {
	if claim.Spec.StorageClassName == nil || *claim.Spec.StorageClassName == "" {
		return false
	}
	class, err := classes.Get(*claim.Spec.StorageClassName)
	return err == nil && class.VolumeBindingMode != nil && *class.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer
}

// nodeNamed selects the node with name.
func nodeNamed(name string) *v1.NodeSelector {
	return &v1.NodeSelector{NodeSelectorTerms: []v1.NodeSelectorTerm{{
		MatchFields: []v1.NodeSelectorRequirement{{Key: "metadata.name", Operator: v1.NodeSelectorOpIn, Values: []string{name}}},
	}}}
}

// volumeFilter rejects a node that one of the pod's volumes cannot be used
// on.
func (c *candidate) volumeFilter(ni *nodeInfo) []Reason {
	for _, sel := range c.volumes.Affinity {
		// An unparsable selector matches no node, the conservative reading.
		if ok, _ := nodeaffinity.NewLazyErrorNodeSelector(sel).Match(ni.node); !ok {
			return []Reason{{Filter: FilterVolumeBinding, Message: MsgVolumeNodeConflict}}
		}
	}
	return nil
}
