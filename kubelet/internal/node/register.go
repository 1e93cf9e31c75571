package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kinns/kinns/kubelet/config"
)

// Register creates the Node, or brings an existing one up to date,
// retrying (with growing pauses) until the API answers.
func (a *Agent) Register(ctx context.Context) error {
	pause := 200 * time.Millisecond
	for {
		err := a.tryRegister(ctx)
		if err == nil {
			a.log.Info("node registered", "node", a.cfg.NodeName)
			return nil
		}
		a.log.Warn("register node", "node", a.cfg.NodeName, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("register node %s: %w", a.cfg.NodeName, ctx.Err())
		case <-a.clock.After(pause):
		}
		pause = min(2*pause, 7*time.Second)
	}
}

func (a *Agent) tryRegister(ctx context.Context) error {
	node := a.newNode(ctx)
	created, err := a.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err == nil {
		a.setNode(created)
		return nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	existing, err := a.client.CoreV1().Nodes().Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if n, changed := reconcileNode(existing, node); changed {
		if existing, err = a.client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	a.setNode(existing)
	return nil
}

// reconcileNode adds the kubelet's labels and pod CIDR to an existing Node
// (a pod CIDR already set is never changed; taints are the cluster's).
func reconcileNode(existing, want *v1.Node) (*v1.Node, bool) {
	n := existing.DeepCopy()
	changed := false
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	for key, v := range want.Labels {
		if n.Labels[key] != v {
			n.Labels[key], changed = v, true
		}
	}
	if n.Spec.PodCIDR == "" && want.Spec.PodCIDR != "" {
		n.Spec.PodCIDR, n.Spec.PodCIDRs, changed = want.Spec.PodCIDR, want.Spec.PodCIDRs, true
	}
	return n, changed
}

// newNode is the Node as the kubelet registers it.
func (a *Agent) newNode(ctx context.Context) *v1.Node {
	labels := map[string]string{
		v1.LabelHostname: a.cfg.NodeName, v1.LabelOSStable: "linux", v1.LabelArchStable: goruntime.GOARCH,
	}
	for key, v := range a.cfg.Labels {
		labels[key] = v
	}
	n := &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: a.cfg.NodeName, Labels: labels},
		Spec:       v1.NodeSpec{PodCIDR: a.cfg.PodCIDR, PodCIDRs: []string{a.cfg.PodCIDR}, Taints: a.cfg.Taints},
	}
	n.Status = a.nodeStatus(ctx, n)
	return n
}

// nodeStatus is the Node's status now; conditions keep their transition
// times while they hold.
func (a *Agent) nodeStatus(ctx context.Context, old *v1.Node) v1.NodeStatus {
	now := metav1.NewTime(a.clock.Now())
	ready, msg := a.nodeReady(ctx)
	want := []v1.NodeCondition{
		nodeCond(v1.NodeMemoryPressure, false, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
		nodeCond(v1.NodeDiskPressure, false, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
		nodeCond(v1.NodePIDPressure, false, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
		nodeCond(v1.NodeReady, ready, map[bool]string{true: "KubeletReady", false: "KubeletNotReady"}[ready], msg),
	}
	conds := make([]v1.NodeCondition, 0, len(want))
	for _, c := range want {
		c.LastHeartbeatTime, c.LastTransitionTime = now, now
		for _, o := range old.Status.Conditions {
			if o.Type == c.Type && o.Status == c.Status && !o.LastTransitionTime.IsZero() {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
		conds = append(conds, c)
	}
	capacity := nodeCapacity(old.Status.Capacity, a.cfg.Capacity)
	return v1.NodeStatus{
		Capacity:    capacity,
		Allocatable: config.LessReserved(capacity, a.cfg.Reserved),
		Conditions:  conds,
		Addresses: []v1.NodeAddress{
			{Type: v1.NodeInternalIP, Address: a.cfg.NodeIP},
			{Type: v1.NodeHostName, Address: a.cfg.NodeName},
		},
		DaemonEndpoints: v1.NodeDaemonEndpoints{KubeletEndpoint: v1.DaemonEndpoint{Port: a.serverPort()}},
		NodeInfo:        a.nodeInfo(ctx),
	}
}

// nodeReady checks what pods need: the container runtime answers and the
// pod network is in place.
func (a *Agent) nodeReady(ctx context.Context) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := a.rt.Version(ctx); err != nil {
		return false, "container runtime is down: " + err.Error()
	}
	if err := a.net.Status(ctx); err != nil {
		return false, "container runtime network not ready: " + err.Error()
	}
	return true, "kubelet is posting ready status"
}

func nodeCond(t v1.NodeConditionType, ok bool, reason, msg string) v1.NodeCondition {
	s := v1.ConditionFalse
	if ok {
		s = v1.ConditionTrue
	}
	return v1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg}
}

// nodeCapacity is the kubelet's own resources over what the Node already
// shows: an extended resource another writer advertised (a device plugin's
// stand-in, `kubectl patch node --subresource status`, the conformance
// suite's example.com/fakecpu) stays, and gets its allocatable too, as
// upstream's kubelet keeps capacity entries it does not manage.
func nodeCapacity(existing, own v1.ResourceList) v1.ResourceList {
	out := make(v1.ResourceList, len(existing)+len(own))
	for name, q := range existing {
		out[name] = q
	}
	for name, q := range own {
		out[name] = q
	}
	return out
}

func (a *Agent) serverPort() int32 {
	_, p, err := net.SplitHostPort(a.cfg.ServerAddress)
	if n, err2 := strconv.Atoi(p); err == nil && err2 == nil {
		return int32(n)
	}
	return 10250
}

func (a *Agent) nodeInfo(ctx context.Context) v1.NodeSystemInfo {
	rtv := "containerd://unknown"
	if v, err := a.rt.Version(ctx); err == nil {
		rtv = "containerd://" + v
	}
	id := stableID(a.cfg.ContainerdNamespace + "/" + a.cfg.NodeName)
	return v1.NodeSystemInfo{
		MachineID:               id,
		SystemUUID:              id[:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:32],
		BootID:                  stableID(hostBootID() + a.cfg.NodeName),
		KernelVersion:           kernelVersion(),
		OSImage:                 osImage(),
		ContainerRuntimeVersion: rtv,
		KubeletVersion:          config.Version,
		OperatingSystem:         "linux",
		Architecture:            goruntime.GOARCH,
	}
}

// stableID is 32 hex digits derived from s: the same node of the same lab
// always has the same machine ID, and no two nodes share one.
func stableID(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:16])
}

func hostBootID() string {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b))
}

func kernelVersion() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

func osImage() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "Linux"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "Linux"
}
