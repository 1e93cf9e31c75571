package deployment

import (
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Annotations shared with kubectl (rollout history, undo, status).
const (
	// RevisionAnnotation numbers the rollouts: on a ReplicaSet, the rollout
	// it belongs to; on the deployment, the current one.
	RevisionAnnotation = "deployment.kubernetes.io/revision"
	// RevisionHistoryAnnotation lists, on a ReplicaSet that was rolled back
	// to, the revisions it had before.
	RevisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"
	// DesiredReplicasAnnotation is the deployment's spec.replicas when the
	// ReplicaSet was last sized; a difference means the user scaled.
	DesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
	// MaxReplicasAnnotation is spec.replicas + maxSurge at that time, the
	// base of proportional scaling.
	MaxReplicasAnnotation = "deployment.kubernetes.io/max-replicas"

	// rollbackToAnnotation is set by old clients (extensions/v1beta1).
	rollbackToAnnotation = "deprecated.deployment.rollback.to"
	// maxHistoryChars bounds the revision-history annotation.
	maxHistoryChars = 2000
)

// notCopied are the deployment annotations that describe the deployment
// itself and must not be copied onto its ReplicaSets (kubectl rollout undo
// copies ReplicaSet annotations back, except these).
var notCopied = map[string]bool{
	corev1.LastAppliedConfigAnnotation: true,
	RevisionAnnotation:                 true,
	RevisionHistoryAnnotation:          true,
	DesiredReplicasAnnotation:          true,
	MaxReplicasAnnotation:              true,
	rollbackToAnnotation:               true,
}

// revisionOf parses an object's revision annotation; none or garbage is 0.
func revisionOf(obj metav1.Object) int64 {
	v, err := strconv.ParseInt(obj.GetAnnotations()[RevisionAnnotation], 10, 64)
	if err != nil {
		return 0
	}
	return v
}

func maxRevision(rss []*appsv1.ReplicaSet) int64 {
	var m int64
	for _, rs := range rss {
		m = max(m, revisionOf(rs))
	}
	return m
}

// byRevision orders ReplicaSets oldest revision first, then by age.
func byRevision(rss []*appsv1.ReplicaSet) {
	sort.SliceStable(rss, func(i, j int) bool {
		a, b := revisionOf(rss[i]), revisionOf(rss[j])
		if a != b {
			return a < b
		}
		return older(rss[i], rss[j])
	})
}

// setNewRSAnnotations makes rs carry the deployment's annotations and the
// given revision. A ReplicaSet that had a lower revision is being returned
// to (rollback): its old revision goes to the history annotation. A set
// about to be created also gets its replicas annotations. It reports
// whether rs changed.
func setNewRSAnnotations(d *appsv1.Deployment, rs *appsv1.ReplicaSet, revision int64, exists bool) bool {
	changed := copyAnnotations(d, rs)
	old, hadRevision := rs.Annotations[RevisionAnnotation]
	oldRevision := revisionOf(rs)
	if oldRevision < revision {
		rs.Annotations[RevisionAnnotation] = strconv.FormatInt(revision, 10)
		changed = true
		if hadRevision && old != "" {
			appendHistory(rs, old)
		}
	}
	if !exists && setReplicasAnnotations(rs, replicasOf(d), replicasOf(d)+maxSurge(d)) {
		changed = true
	}
	return changed
}

func appendHistory(rs *appsv1.ReplicaSet, revision string) {
	h := rs.Annotations[RevisionHistoryAnnotation]
	if h == "" {
		h = revision
	} else {
		h += "," + revision
	}
	for len(h) > maxHistoryChars {
		i := strings.IndexByte(h, ',')
		if i < 0 {
			break
		}
		h = h[i+1:]
	}
	rs.Annotations[RevisionHistoryAnnotation] = h
}

// copyAnnotations copies the deployment's own annotations (change-cause
// and the like) onto rs.
func copyAnnotations(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	changed := false
	for k, v := range d.Annotations {
		if notCopied[k] || rs.Annotations[k] == v {
			continue
		}
		rs.Annotations[k] = v
		changed = true
	}
	return changed
}

// setReplicasAnnotations records the deployment's size on rs.
func setReplicasAnnotations(rs *appsv1.ReplicaSet, desired, maxReplicas int32) bool {
	if !replicasAnnotationsNeedUpdate(rs, desired, maxReplicas) {
		return false
	}
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	rs.Annotations[DesiredReplicasAnnotation] = strconv.Itoa(int(desired))
	rs.Annotations[MaxReplicasAnnotation] = strconv.Itoa(int(maxReplicas))
	return true
}

func replicasAnnotationsNeedUpdate(rs *appsv1.ReplicaSet, desired, maxReplicas int32) bool {
	return rs.Annotations[DesiredReplicasAnnotation] != strconv.Itoa(int(desired)) ||
		rs.Annotations[MaxReplicasAnnotation] != strconv.Itoa(int(maxReplicas))
}

// intAnnotation reads an int32 annotation of rs.
func intAnnotation(rs *appsv1.ReplicaSet, key string) (int32, bool) {
	v, ok := rs.Annotations[key]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, false
	}
	return int32(n), true
}

// setDeploymentRevision records the current revision on the deployment.
func setDeploymentRevision(d *appsv1.Deployment, revision string) bool {
	if revision == "" || d.Annotations[RevisionAnnotation] == revision {
		return false
	}
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	d.Annotations[RevisionAnnotation] = revision
	return true
}
