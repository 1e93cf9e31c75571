package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/kinns/kinns/cni/netns"
	"github.com/kinns/kinns/harness/state"
	"github.com/kinns/kinns/harness/topology"
)

// ComponentStatus is one component process of the lab.
type ComponentStatus struct {
	Name    string `json:"name"`
	PID     int    `json:"pid"`
	Running bool   `json:"running"`
	// Healthy is what the component itself says (etcd /health, API /readyz).
	Healthy bool   `json:"healthy"`
	Detail  string `json:"detail,omitempty"`
	Log     string `json:"log"`
}

// componentStatuses reads the journal: the newest record of each component.
func (l *Lab) componentStatuses(ctx context.Context) []ComponentStatus {
	rs, _ := l.store.Resources()
	latest := map[string]state.Resource{}
	var order []string
	for _, r := range rs {
		if r.Kind != state.KindProcess || r.Process.PID == 0 || r.Name == "supervisor" {
			continue
		}
		if _, seen := latest[r.Name]; !seen {
			order = append(order, r.Name)
		}
		latest[r.Name] = r
	}
	sort.Strings(order)
	var out []ComponentStatus
	for _, name := range order {
		r := latest[name]
		cs := ComponentStatus{Name: name, PID: r.Process.PID, Running: r.Process.Alive(), Log: l.LogPath(name)}
		cs.Healthy, cs.Detail = cs.Running, ""
		if cs.Running {
			cs.Healthy, cs.Detail = l.probe(ctx, name)
		}
		out = append(out, cs)
	}
	return out
}

// probe asks a component whether it is healthy.
func (l *Lab) probe(ctx context.Context, name string) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for _, h := range l.plan.ControlPlane() {
		if name == EtcdComponent(h.Index) {
			return l.etcdHealth(ctx, h)
		}
	}
	if name == ComponentAPIServer {
		if err := l.apiReady(ctx); err != nil {
			return false, err.Error()
		}
		return true, "ready"
	}
	return true, ""
}

// etcdHealth reads a member's /health from inside its own host, with the
// lab's etcd client certificate: healthy means the member is part of a
// cluster that can commit.
func (l *Lab) etcdHealth(ctx context.Context, h topology.Host) (bool, string) {
	tlsCfg, err := l.EtcdClientTLS()
	if err != nil {
		return false, err.Error()
	}
	tr := &http.Transport{DialContext: netns.DialContext(netns.Path(h.Netns)), TLSClientConfig: tlsCfg}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(ctx, "GET", etcdURL(h.IP.String(), EtcdHTTPPort)+"/health", nil)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	var body struct {
		Health string `json:"health"`
		Reason string `json:"reason"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	if body.Health != "true" {
		return false, fmt.Sprintf("unhealthy: %s", body.Reason)
	}
	return true, "member of a quorum"
}
