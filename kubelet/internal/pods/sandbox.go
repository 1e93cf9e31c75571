package pods

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"path/filepath"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kinns/kinns/cni"
	"github.com/kinns/kinns/cni/netns"
	"github.com/kinns/kinns/kubelet/internal/podinputs"
	"github.com/kinns/kinns/kubelet/records"
	"github.com/kinns/kinns/kubelet/runtime"
)

// sandbox is a pod's network namespace and its files.
type sandbox struct {
	podinputs.Sandbox
	// Netns is the namespace's name under /run/netns ("" for hostNetwork
	// pods, which use the node's).
	Netns string
}

// ensureSandbox makes (or finds again: cni.Add is idempotent) the pod's
// network namespace and writes its files. hostNetwork pods use the node's.
func (w *podWorker) ensureSandbox(ctx context.Context, pod *v1.Pod) (*sandbox, error) {
	k := w.k
	dir := k.inputs.PodDir(pod.UID)
	if w.sandbox != nil && (pod.Spec.HostNetwork || netns.Exists(w.sandbox.Netns)) {
		return w.sandbox, nil
	}
	if pod.Spec.HostNetwork {
		sb := &sandbox{Sandbox: podinputs.Sandbox{NetnsPath: k.nodeNetnsPath(), IP: k.cfg.NodeIP, Dir: dir}}
		if err := k.inputs.WritePodFiles(pod, sb.Sandbox); err != nil {
			return nil, err
		}
		w.setSandbox(sb)
		return sb, nil
	}
	name := k.netnsName(pod.UID)
	if err := records.Write(k.cfg.StateDir, records.Record{Pod: records.PodRef(podRefOf(pod)), Netns: name}); err != nil {
		return nil, err
	}
	res, err := k.net.Add(ctx, cniRef(podRefOf(pod)), name, portMappings(pod)...)
	if err != nil {
		return nil, err
	}
	sb := &sandbox{Netns: name, Sandbox: podinputs.Sandbox{NetnsPath: res.NetnsPath, IP: res.IP.String(), Dir: dir}}
	if err := k.inputs.WritePodFiles(pod, sb.Sandbox); err != nil {
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
func (k *Manager) deleteSandbox(ctx context.Context, ref runtime.PodRef) error {
	return k.net.Del(ctx, cniRef(ref), k.netnsName(types.UID(ref.UID)))
}

// netnsName is the name of the pod's network namespace.
func (k *Manager) netnsName(uid types.UID) string { return NetnsName(k.cfg.PodNetnsPrefix, uid) }

// NetnsName is the name under /run/netns of the network namespace of the
// pod with uid on a kubelet with Config.PodNetnsPrefix prefix:
// "<prefix>-<10 hex digits of the UID's hash>", unique and named after the
// lab and node.
func NetnsName(prefix string, uid types.UID) string {
	h := sha256.Sum256([]byte(uid))
	return prefix + "-" + hex.EncodeToString(h[:5])
}

func (k *Manager) nodeNetnsPath() string {
	if filepath.IsAbs(k.cfg.NodeNetns) {
		return k.cfg.NodeNetns
	}
	return netns.Path(k.cfg.NodeNetns)
}

// removePodFiles removes the pod's state folder, once what its volumes
// mounted there is unmounted, and its logs.
func (k *Manager) removePodFiles(ctx context.Context, ref runtime.PodRef) error {
	if err := k.inputs.UnmountPodVolumes(ctx, types.UID(ref.UID)); err != nil {
		return err
	}
	return errors.Join(
		os.RemoveAll(k.inputs.PodDir(types.UID(ref.UID))),
		os.RemoveAll(k.inputs.PodLogDir(ref)),
	)
}

func cniRef(r runtime.PodRef) cni.PodRef {
	return cni.PodRef{Namespace: r.Namespace, Name: r.Name, UID: r.UID}
}

// portMappings are the host ports of the pod's containers and sidecars
// (restartable init containers), as the kubelet hands them to CNI.
func portMappings(pod *v1.Pod) []cni.PortMapping {
	var out []cni.PortMapping
	add := func(ports []v1.ContainerPort) {
		for _, p := range ports {
			if p.HostPort <= 0 {
				continue
			}
			m := cni.PortMapping{HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: string(p.Protocol)}
			if ip, err := netip.ParseAddr(p.HostIP); err == nil {
				m.HostIP = ip
			}
			out = append(out, m)
		}
	}
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways {
			add(c.Ports)
		}
	}
	for _, c := range pod.Spec.Containers {
		add(c.Ports)
	}
	return out
}
