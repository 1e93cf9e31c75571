package scheduler

import (
	"slices"

	v1 "k8s.io/api/core/v1"
)

// hostPort is one host port a pod holds on its node.
type hostPort struct {
	ip       string // "" and "0.0.0.0" both mean every address
	protocol v1.Protocol
	port     int32
}

// hostPortsOf lists the host ports a pod holds for its whole life: those of
// its containers and of its sidecars (restartable init containers). Plain
// init containers run before the others and hold nothing.
func hostPortsOf(pod *v1.Pod) []hostPort {
	var out []hostPort
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways {
			out = appendHostPorts(out, c.Ports)
		}
	}
	for i := range pod.Spec.Containers {
		out = appendHostPorts(out, pod.Spec.Containers[i].Ports)
	}
	return out
}

func appendHostPorts(out []hostPort, ports []v1.ContainerPort) []hostPort {
	for _, p := range ports {
		if p.HostPort <= 0 {
			continue
		}
		proto := p.Protocol
		if proto == "" {
			proto = v1.ProtocolTCP
		}
		ip := p.HostIP
		if ip == "0.0.0.0" {
			ip = ""
		}
		out = append(out, hostPort{ip: ip, protocol: proto, port: p.HostPort})
	}
	return out
}

// conflicts tells whether two host ports cannot both be bound: same protocol
// and port, and the same address or a wildcard on either side.
func (h hostPort) conflicts(o hostPort) bool {
	if h.port != o.port || h.protocol != o.protocol {
		return false
	}
	return h.ip == "" || o.ip == "" || h.ip == o.ip
}

func portsFit(want, used []hostPort) bool {
	for _, w := range want {
		if slices.ContainsFunc(used, w.conflicts) {
			return false
		}
	}
	return true
}
