package harness

import (
	"context"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kinns/kinns/cni/netns"
	"github.com/kinns/kinns/controlplane/forward"
	"github.com/kinns/kinns/harness/containerd"
	"github.com/kinns/kinns/harness/network"
	"github.com/kinns/kinns/harness/state"
	"github.com/kinns/kinns/harness/topology"
)

// Status is what `lab status` shows.
type Status struct {
	Name       string            `json:"name"`
	Ready      bool              `json:"ready"`
	Timing     string            `json:"timing"`
	StateDir   string            `json:"stateDir"`
	Supervisor ProcessStatus     `json:"supervisor"`
	Containerd ContainerdStatus  `json:"containerd"`
	APIServer  string            `json:"apiServer,omitempty"`
	Components []ComponentStatus `json:"components"`
	Hosts      []HostStatus      `json:"hosts"`
	// Broken lists the faults in force, oldest first.
	Broken []state.Broken `json:"broken,omitempty"`
	// VIP and APIServers: with three API servers, the virtual IP and the
	// balancer's view of each (in rotation or not, and why).
	VIP        string            `json:"vip,omitempty"`
	APIServers []forward.Backend `json:"apiServers,omitempty"`
}

// ProcessStatus is a process of the lab.
type ProcessStatus struct {
	PID   int  `json:"pid"`
	Alive bool `json:"alive"`
}

// ContainerdStatus is the daemon the nodes use.
type ContainerdStatus struct {
	Address string `json:"address"`
	Healthy bool   `json:"healthy"`
	Error   string `json:"error,omitempty"`
	Log     string `json:"log,omitempty"`
}

// HostStatus is one host of the lab.
type HostStatus struct {
	Name    string `json:"name"`
	Role    string `json:"role"`
	Netns   string `json:"netns"`
	IP      string `json:"ip"`
	PodCIDR string `json:"podCIDR,omitempty"`
	// Present: the namespace exists. LinkUp: its fabric cable is plugged in.
	Present bool `json:"present"`
	LinkUp  bool `json:"linkUp"`
	// Node is what the API says of a node host, as kubectl get nodes
	// shows it (Ready, NotReady, Unknown, with SchedulingDisabled when
	// cordoned); "not registered", or "" when the API did not answer.
	Node string `json:"node,omitempty"`
}

// Healthy reports whether the host is there and connected.
func (h HostStatus) Healthy() bool { return h.Present && h.LinkUp }

// Status inspects the lab as it is now.
func (l *Lab) Status(ctx context.Context) Status {
	m, _ := l.store.Meta()
	s := Status{
		Name: l.Name(), Ready: m.Ready, Timing: m.Timing, StateDir: l.store.Dir(),
		Supervisor: ProcessStatus{PID: m.Supervisor.PID, Alive: m.Supervisor.Alive()},
		Containerd: ContainerdStatus{Address: l.containerdAddress},
		Broken:     m.Broken,
		APIServers: l.APIServers(),
	}
	if l.HA() {
		s.VIP = topology.APIVIP.String()
	}
	if l.cfg.ContainerdAddress == "" || l.containerdAddress == l.daemon().Address() {
		s.Containerd.Log = l.daemon().LogPath()
	}
	if err := containerd.WaitServing(ctx, l.containerdAddress, time.Second); err != nil {
		s.Containerd.Error = err.Error()
	} else {
		s.Containerd.Healthy = true
	}
	var nodes map[string]string
	if l.apiPort != 0 {
		s.APIServer = l.APIServerURL()
		nodes = l.nodeStates(ctx)
	}
	for _, h := range l.plan.Hosts {
		hs := l.hostStatus(h)
		if h.IsNode() && nodes != nil {
			hs.Node = nodes[h.Name]
			if hs.Node == "" {
				hs.Node = "not registered"
			}
		}
		s.Hosts = append(s.Hosts, hs)
	}
	s.Components = l.componentStatuses(ctx)
	return s
}

func (l *Lab) hostStatus(h topology.Host) HostStatus {
	hs := HostStatus{Name: h.Name, Role: string(h.Role), Netns: h.Netns, IP: h.IP.String(), Present: netns.Exists(h.Netns)}
	if h.IsNode() {
		hs.PodCIDR = h.PodCIDR.String()
	}
	if hs.Present {
		hs.LinkUp, _ = network.LinkUp(l.plan, h)
	}
	return hs
}

// nodeStates asks the API for each Node's state as kubectl shows it; nil if
// it does not answer within two seconds.
func (l *Lab) nodeStates(ctx context.Context) map[string]string {
	cs, err := l.adminClient(2 * time.Second)
	if err != nil {
		return nil
	}
	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	out := map[string]string{}
	for _, n := range list.Items {
		st := "Unknown"
		for _, c := range n.Status.Conditions {
			if c.Type == v1.NodeReady {
				st = map[v1.ConditionStatus]string{v1.ConditionTrue: "Ready", v1.ConditionFalse: "NotReady"}[c.Status]
				if st == "" {
					st = "Unknown"
				}
			}
		}
		if n.Spec.Unschedulable {
			st += ",SchedulingDisabled"
		}
		out[n.Name] = st
	}
	return out
}
