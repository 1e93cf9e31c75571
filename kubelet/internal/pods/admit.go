package pods

import (
	"context"
	"fmt"

	v1 "k8s.io/api/core/v1"
	"k8s.io/kubernetes/pkg/kubelet/lifecycle"
	"k8s.io/kubernetes/pkg/kubelet/sysctl"

	"github.com/kinns/kinns/kubelet/config"
)

// admitter is one of the node's admission checks, as upstream's kubelet
// runs them on a pod before it starts it.
type admitter interface {
	Admit(ctx context.Context, attrs *lifecycle.PodAdmitAttributes) lifecycle.PodAdmitResult
}

// refusal is why the node's admission refused a pod.
type refusal struct{ reason, message string }

// newAdmitters builds the node's admission checks: upstream's sysctl
// allowlist, of the safe sysctls this kernel namespaces and the unsafe ones
// cfg allows; a sysctl not known to be namespaced cannot be allowed.
func newAdmitters(ctx context.Context, cfg config.Config) ([]admitter, error) {
	allowed := append(sysctl.SafeSysctlAllowlist(ctx), cfg.AllowedUnsafeSysctls...)
	list, err := sysctl.NewAllowlist(allowed)
	if err != nil {
		return nil, fmt.Errorf("sysctl allowlist: %w", err)
	}
	return []admitter{list}, nil
}

// admitPod runs the admission checks on pod; nil means admitted.
func admitPod(ctx context.Context, checks []admitter, pod *v1.Pod) *refusal {
	for _, c := range checks {
		if r := c.Admit(ctx, &lifecycle.PodAdmitAttributes{Pod: pod}); !r.Admit {
			return &refusal{reason: r.Reason, message: r.Message}
		}
	}
	return nil
}

// admit runs the node's admission once per worker, on a pod the kubelet
// never started (no start time in its status: after a restart, the pods a
// previous kubelet ran stay admitted). A refused pod gets a Warning event;
// the caller reports it Failed and runs nothing.
func (w *podWorker) admit(ctx context.Context, pod *v1.Pod) bool {
	switch {
	case w.rejected != nil:
		return false
	case w.admitted:
		return true
	}
	if pod.Status.StartTime == nil {
		if r := admitPod(ctx, w.k.admitters, pod); r != nil {
			w.rejected = r
			w.k.log.Info("pod rejected", "pod", w.name(), "reason", r.reason, "message", r.message)
			w.k.event(pod, v1.EventTypeWarning, r.reason, "%s", r.message)
			return false
		}
	}
	w.admitted = true
	return true
}
