package pods

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"

	"github.com/kinns/kinns/kubelet/internal/patch"
)

// repatchAfter: a status equal to the last one sent is sent again only if
// the API still shows something else after this long (another writer, or a
// lost patch), not while the informer catches up with the last patch.
const repatchAfter = 10 * time.Second

// report computes the pod's status and patches it; false if the patch failed.
func (w *podWorker) report(ctx context.Context, pod *v1.Pod, rs runs, sb *sandbox, final bool) bool {
	in := statusInput{
		pod: pod, runs: w.withMessages(ctx, pod, rs), waiting: w.waiting, probes: w.probes.results(),
		sandboxReady: sb != nil, hostIP: w.k.cfg.NodeIP, final: final, now: w.k.clock.Now(),
		restarting: map[string]bool{}, deadlineExceeded: w.deadlineExceeded, rejected: w.rejected,
		resizePending: w.resizePending, resizeError: w.resizeError,
	}
	for id, then := range w.killed {
		// Under Never a probe's kill is the end, as decide's restarts says.
		if then == killChanged || (then == killProbe && pod.Spec.RestartPolicy != v1.RestartPolicyNever) {
			in.restarting[id] = true
		}
	}
	if sb != nil {
		in.podIP = sb.IP
	}
	return w.patchStatus(ctx, pod, podStatus(in))
}

func (w *podWorker) patchStatus(ctx context.Context, pod *v1.Pod, st v1.PodStatus) bool {
	now := w.k.clock.Now()
	if w.lastSent != nil && equality.Semantic.DeepEqual(*w.lastSent, st) && now.Sub(w.lastPatch) < repatchAfter {
		return true
	}
	patch, err := statusPatch(patchBase(pod, w.patched), st)
	if err != nil {
		w.k.log.Error("make status patch", "pod", w.name(), "err", err)
		return false
	}
	if patch != nil {
		var got *v1.Pod
		got, err = w.k.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
		if err == nil {
			w.patched = got
		}
	}
	switch {
	case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
		return true // the pod is gone, or another pod took its name
	case err != nil:
		w.k.log.Warn("patch pod status", "pod", w.name(), "err", err)
		return false
	}
	w.lastSent, w.lastPatch = &st, now
	return true
}

// patchBase is the pod a status patch is computed from: the informer's, or
// the one our last patch returned when the informer has not seen it yet. A
// patch is a diff, so a stale base loses changes: from an informer pod that
// had not yet seen "Ready False ContainersNotReady", the next patch to
// "Ready True" would not clear the reason, and the API showed Ready True
// with reason ContainersNotReady. (Upstream's status manager reads the pod
// from the API before each patch; the patch's answer spares that read.)
func patchBase(informer, patched *v1.Pod) *v1.Pod {
	if patched == nil || patched.UID != informer.UID {
		return informer
	}
	if c, err := resourceversion.CompareResourceVersion(patched.ResourceVersion, informer.ResourceVersion); err == nil && c > 0 {
		return patched
	}
	return informer
}

// statusPatch is a strategic merge patch from the pod's status to st, with
// the pod's UID as a precondition (a pod recreated under the same name is
// not patched); nil when nothing changes.
func statusPatch(pod *v1.Pod, st v1.PodStatus) ([]byte, error) {
	p, err := patch.TwoWay(v1.Pod{Status: pod.Status}, v1.Pod{Status: st}, v1.Pod{})
	if err != nil {
		return nil, fmt.Errorf("diff pod status: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(p, &m); err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, nil
	}
	m["metadata"] = map[string]any{"uid": pod.UID}
	return json.Marshal(m)
}
