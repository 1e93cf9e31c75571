package deployment

import (
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/rand"
)

// hashLabel marks a ReplicaSet, its selector and its pods with the hash of
// the pod template they were made from, so the sets of one deployment
// never select each other's pods.
const hashLabel = appsv1.DefaultDeploymentUniqueLabelKey

// TemplateHash returns the pod-template-hash of a deployment's template:
// FNV-32a over the template's JSON encoding (stable: struct fields in
// order, map keys sorted), salted with collisionCount when set, written
// with the consonant-digit alphabet Kubernetes uses for generated names
// (so it is a valid label value and never spells a word).
//
// The hash only names ReplicaSets; which ReplicaSet belongs to the current
// template is decided by comparing templates (equalIgnoreHash), so a hash
// that changes across versions never orphans a ReplicaSet.
func TemplateHash(template *corev1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	b, _ := json.Marshal(template) // plain data: cannot fail
	h.Write(b)
	if collisionCount != nil {
		var salt [4]byte
		binary.LittleEndian.PutUint32(salt[:], uint32(*collisionCount))
		h.Write(salt[:])
	}
	return rand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}

// equalIgnoreHash reports whether two templates are the same apart from
// the pod-template-hash label. This is how a deployment recognises its
// new ReplicaSet, including an old one it returns to on rollback.
func equalIgnoreHash(a, b *corev1.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, hashLabel)
	delete(b.Labels, hashLabel)
	return apiequality.Semantic.DeepEqual(a, b) // nil and empty maps are equal

}

// withLabel returns a copy of m with key set to value.
func withLabel(m map[string]string, key, value string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	out[key] = value
	return out
}
