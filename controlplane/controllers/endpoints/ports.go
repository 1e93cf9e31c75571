package endpoints

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// port is one Service port resolved against one pod.
type port struct {
	name        string
	protocol    corev1.Protocol
	number      int32
	appProtocol *string
}

// resolvePorts returns the Service's ports as the pod serves them, in the
// Service's order. A named targetPort that no container of the pod declares
// (with that protocol) is left out for this pod, as upstream does: the pod
// still serves the Service's other ports.
func resolvePorts(svc *corev1.Service, pod *corev1.Pod) []port {
	var out []port
	for _, sp := range svc.Spec.Ports {
		proto := protocolOf(sp.Protocol)
		n, ok := targetPort(sp, proto, pod)
		if !ok {
			continue
		}
		out = append(out, port{name: sp.Name, protocol: proto, number: n, appProtocol: sp.AppProtocol})
	}
	return out
}

func protocolOf(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// targetPort is the port number the pod listens on for sp.
func targetPort(sp corev1.ServicePort, proto corev1.Protocol, pod *corev1.Pod) (int32, bool) {
	tp := sp.TargetPort
	if tp.Type == intstr.String {
		return namedPort(pod, tp.StrVal, proto)
	}
	if tp.IntVal != 0 {
		return tp.IntVal, true
	}
	return sp.Port, true
}

// namedPort finds a container port by name in the pod's containers and in its
// sidecars (restartable init containers), which serve like containers.
func namedPort(pod *corev1.Pod, name string, proto corev1.Protocol) (int32, bool) {
	containers := pod.Spec.Containers
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			containers = append(containers[:len(containers):len(containers)], c)
		}
	}
	for _, c := range containers {
		for _, cp := range c.Ports {
			if cp.Name == name && protocolOf(cp.Protocol) == proto {
				return cp.ContainerPort, true
			}
		}
	}
	return 0, false
}

// signature identifies a list of resolved ports: pods with the same signature
// share a slice (or an Endpoints subset).
func signature(ports []port) string {
	var b strings.Builder
	for _, p := range ports {
		app := ""
		if p.appProtocol != nil {
			app = *p.appProtocol
		}
		fmt.Fprintf(&b, "%s/%s/%s/%s;", p.name, p.protocol, strconv.Itoa(int(p.number)), app)
	}
	return b.String()
}
