package pods

import (
	"context"
	"fmt"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// admitted tells whether the pod may run on this node, admitting it now if
// it was not yet: a pod the node already ran (Running) is kept; a new one
// goes through admit against the pods admitted before it, one admission at a
// time. A rejected pod is Failed with upstream's reason and message, as the
// kubelet reports it. An error (the Node could not be read) means: try again.
func (w *podWorker) admitted(ctx context.Context, pod *v1.Pod) (bool, error) {
	if w.isAdmitted() {
		return true, nil
	}
	if w.rejected != nil {
		w.reportRejected(ctx, pod)
		return false, nil
	}
	r, err := w.admit1(ctx, pod)
	if err != nil || r == nil {
		return err == nil, err
	}
	w.k.log.Info("pod rejected", "pod", w.name(), "reason", r.Reason, "message", r.Message)
	w.k.event(pod, v1.EventTypeWarning, r.Reason, "%s", r.Message)
	w.rejected = r
	w.reportRejected(ctx, pod)
	return false, nil
}

// admit1 decides under the manager's admission lock: nil admits the pod,
// and marks it so.
func (w *podWorker) admit1(ctx context.Context, pod *v1.Pod) (*rejection, error) {
	k := w.k
	k.admitMu.Lock()
	defer k.admitMu.Unlock()
	if pod.Status.Phase == v1.PodRunning {
		w.setAdmitted()
		return nil, nil
	}
	node, err := k.node(ctx)
	if err != nil {
		return nil, fmt.Errorf("admit pod: %w", err)
	}
	r := admit(pod, node, k.activePods(w.uid))
	if r == nil {
		r = admitPod(ctx, k.admitters, pod) // sysctls
	}
	if r == nil {
		w.setAdmitted()
	}
	return r, nil
}

// reportRejected patches the Failed status of a rejected pod: upstream keeps
// the QoS class and says only why.
func (w *podWorker) reportRejected(ctx context.Context, pod *v1.Pod) bool {
	st := v1.PodStatus{
		Phase: v1.PodFailed, Reason: w.rejected.Reason, Message: "Pod was rejected: " + w.rejected.Message,
		QOSClass: pod.Status.QOSClass, Conditions: pod.Status.Conditions, StartTime: pod.Status.StartTime,
	}
	if st.StartTime == nil {
		st.StartTime = mtime(w.k.clock.Now())
	}
	return w.patchStatus(ctx, pod, st)
}

func (w *podWorker) isAdmitted() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.admit
}

func (w *podWorker) setAdmitted() {
	w.mu.Lock()
	w.admit = true
	w.mu.Unlock()
}

// activePods are the pods that hold the node's resources and host ports for
// admission, but the one with uid: those admitted (or already running) whose
// phase is not final and that the API still has.
func (k *Manager) activePods(uid types.UID) []*v1.Pod {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []*v1.Pod
	for id, w := range k.workers {
		if id == uid {
			continue
		}
		w.mu.Lock()
		pod, gone, ok := w.pod, w.gone, w.admit
		w.mu.Unlock()
		if pod == nil || gone || pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed {
			continue
		}
		if ok || pod.Status.Phase == v1.PodRunning {
			out = append(out, pod)
		}
	}
	return out
}

// node is this kubelet's Node as its informer last saw it, or as the API
// has it (bounded, as every call of a sync) before the informer has it.
// Admission runs for each new pod under admitMu: a GET each would make a
// burst of pods wait on as many round trips in a row.
func (k *Manager) node(ctx context.Context) (*v1.Node, error) {
	if nodes := k.nodeInformer(); nodes != nil && nodes.Informer().HasSynced() {
		if n, err := nodes.Lister().Get(k.cfg.NodeName); err == nil {
			return n, nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	return k.client.CoreV1().Nodes().Get(ctx, k.cfg.NodeName, metav1.GetOptions{})
}
