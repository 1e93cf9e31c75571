package pods

import (
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/kinns/kinns/kubelet/config"
)

func withSysctls(list ...v1.Sysctl) func(*v1.Pod) {
	return func(p *v1.Pod) { p.Spec.SecurityContext = &v1.PodSecurityContext{Sysctls: list} }
}

// TestSafeSysctlsReachTheRuntime: a safe sysctl is admitted and handed to
// the runtime by its dotted name.
func TestSafeSysctlsReachTheRuntime(t *testing.T) {
	tk := startTestKubelet(t)
	tk.create(t, testPod("safe", withSysctls(v1.Sysctl{Name: "kernel/shm_rmid_forced", Value: "1"})))
	tk.waitPod(t, "safe", "ready", podIsReady)
	run, _ := tk.rt.running("app")
	tk.rt.mu.Lock()
	got := tk.rt.specs[run.ID].Security.Sysctls
	tk.rt.mu.Unlock()
	if got["kernel.shm_rmid_forced"] != "1" || len(got) != 1 {
		t.Errorf("runtime got sysctls %v, want kernel.shm_rmid_forced=1", got)
	}
}

// TestUnsafeSysctlRefused: an unsafe sysctl the node does not allow fails
// the pod with SysctlForbidden and starts nothing; allowed on the node
// (a prefix pattern), the same pod runs.
func TestUnsafeSysctlRefused(t *testing.T) {
	unsafe := withSysctls(v1.Sysctl{Name: "kernel.msgmax", Value: "10000000000"})
	tk := startTestKubelet(t)
	tk.create(t, testPod("unsafe", unsafe))
	p := tk.waitPod(t, "unsafe", "Failed", func(p *v1.Pod) bool { return p.Status.Phase == v1.PodFailed })
	if p.Status.Reason != "SysctlForbidden" || !strings.Contains(p.Status.Message, `forbidden sysctl: "kernel.msgmax" not allowlisted`) {
		t.Errorf("reason %q, message %q", p.Status.Reason, p.Status.Message)
	}
	if starts := tk.rt.startList(); len(starts) != 0 {
		t.Errorf("a refused pod started %v", starts)
	}

	allowed := startTestKubelet(t, func(tk *testKubelet) {
		tk.config = func(c *config.Config) { c.AllowedUnsafeSysctls = []string{"kernel.msg*"} }
	})
	allowed.create(t, testPod("allowed", unsafe))
	allowed.waitPod(t, "allowed", "ready", podIsReady)
}
