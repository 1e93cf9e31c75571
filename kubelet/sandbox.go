package kubelet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kinns/kinns/cni"
	"github.com/kinns/kinns/cni/netns"
	"github.com/kinns/kinns/kubelet/runtime"
)

// sandbox is a pod's network namespace and its files.
type sandbox struct {
	// Netns is the namespace's name under /run/netns; NetnsPath its file.
	Netns, NetnsPath string
	IP               string
	// Dir holds the pod's hosts, resolv.conf and hostname files.
	Dir string
}

// sandboxRecord is written before a sandbox is made, so that a kubelet that
// restarts after the pod's deletion still knows what to remove.
type sandboxRecord struct {
	Pod   runtime.PodRef `json:"pod"`
	Netns string         `json:"netns"`
}

// ensureSandbox makes (or finds again: cni.Add is idempotent) the pod's
// network namespace and writes its files. hostNetwork pods use the node's.
func (w *podWorker) ensureSandbox(ctx context.Context, pod *v1.Pod) (*sandbox, error) {
	k := w.k
	dir := k.podDir(pod.UID)
	if w.sandbox != nil && (pod.Spec.HostNetwork || netns.Exists(w.sandbox.Netns)) {
		return w.sandbox, nil
	}
	if pod.Spec.HostNetwork {
		sb := &sandbox{NetnsPath: k.nodeNetnsPath(), IP: k.cfg.NodeIP, Dir: dir}
		if err := k.writePodFiles(pod, sb); err != nil {
			return nil, err
		}
		w.setSandbox(sb)
		return sb, nil
	}
	name := k.netnsName(pod.UID)
	if err := k.writeRecord(sandboxRecord{Pod: podRefOf(pod), Netns: name}); err != nil {
		return nil, err
	}
	res, err := k.net.Add(ctx, cniRef(podRefOf(pod)), name)
	if err != nil {
		return nil, err
	}
	sb := &sandbox{Netns: name, NetnsPath: res.NetnsPath, IP: res.IP.String(), Dir: dir}
	if err := k.writePodFiles(pod, sb); err != nil {
		return nil, err
	}
	w.setSandbox(sb)
	return sb, nil
}

func (w *podWorker) setSandbox(sb *sandbox) {
	w.sandbox = sb
	w.mu.Lock()
	w.ip = sb.IP
	w.mu.Unlock()
}

// deleteSandbox frees the pod's network; its record goes with its files.
func (k *Kubelet) deleteSandbox(ctx context.Context, ref runtime.PodRef) error {
	return k.net.Del(ctx, cniRef(ref), k.netnsName(types.UID(ref.UID)))
}

// netnsName is the name of the pod's network namespace.
func (k *Kubelet) netnsName(uid types.UID) string { return PodNetnsName(k.cfg.PodNetnsPrefix, uid) }

// PodNetnsName is the name under /run/netns of the network namespace of the
// pod with uid on a kubelet with Config.PodNetnsPrefix prefix:
// "<prefix>-<10 hex digits of the UID's hash>", unique and named after the
// lab and node.
func PodNetnsName(prefix string, uid types.UID) string {
	h := sha256.Sum256([]byte(uid))
	return prefix + "-" + hex.EncodeToString(h[:5])
}

func (k *Kubelet) nodeNetnsPath() string {
	if filepath.IsAbs(k.cfg.NodeNetns) {
		return k.cfg.NodeNetns
	}
	return netns.Path(k.cfg.NodeNetns)
}

func (k *Kubelet) podDir(uid types.UID) string {
	return filepath.Join(k.cfg.StateDir, "pods", string(uid))
}

func (k *Kubelet) podCgroup(uid types.UID) string {
	return k.cfg.CgroupParent + "/pod" + string(uid)
}

func (k *Kubelet) writeRecord(r sandboxRecord) error {
	dir := k.podDir(types.UID(r.Pod.UID))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create pod folder: %w", err)
	}
	b, _ := json.Marshal(r)
	return writeFileAtomic(filepath.Join(dir, "sandbox.json"), b)
}

// sandboxRecords lists the pods that have a folder in the state folder.
func (k *Kubelet) sandboxRecords() []sandboxRecord { return readRecords(k.cfg.StateDir) }

func readRecords(stateDir string) []sandboxRecord {
	ents, _ := os.ReadDir(filepath.Join(stateDir, "pods"))
	var out []sandboxRecord
	for _, e := range ents {
		var r sandboxRecord
		b, err := os.ReadFile(filepath.Join(stateDir, "pods", e.Name(), "sandbox.json"))
		if err == nil && json.Unmarshal(b, &r) == nil && r.Pod.UID == e.Name() {
			out = append(out, r)
		}
	}
	return out
}

// PodNetnsOf is the network namespace (a name under /run/netns) the
// kubelet with this StateDir made for the pod, as its record says; false if
// it has none (not made yet, or removed).
func PodNetnsOf(stateDir string, uid types.UID) (string, bool) {
	b, err := os.ReadFile(filepath.Join(stateDir, "pods", string(uid), "sandbox.json"))
	var r sandboxRecord
	if err != nil || json.Unmarshal(b, &r) != nil || r.Netns == "" {
		return "", false
	}
	return r.Netns, true
}

// PodNetns lists the pod network namespaces (names under /run/netns) that
// the kubelet with this StateDir made and has not removed yet: what a lab's
// teardown must delete after the kubelet was killed. Each is recorded
// before it is made.
func PodNetns(stateDir string) []string {
	var out []string
	for _, r := range readRecords(stateDir) {
		out = append(out, r.Netns)
	}
	return out
}

// removePodFiles removes the pod's state folder and its logs.
func (k *Kubelet) removePodFiles(ref runtime.PodRef) error {
	return errors.Join(
		os.RemoveAll(k.podDir(types.UID(ref.UID))),
		os.RemoveAll(k.podLogDir(ref)),
	)
}

func (k *Kubelet) podLogDir(ref runtime.PodRef) string {
	return filepath.Join(k.cfg.LogDir, ref.Namespace+"_"+ref.Name+"_"+ref.UID)
}

func cniRef(r runtime.PodRef) cni.PodRef {
	return cni.PodRef{Namespace: r.Namespace, Name: r.Name, UID: r.UID}
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
