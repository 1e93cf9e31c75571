package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/kinns/kinns/cni/netns"
)

// EtcdLeader says which member (1-3) leads etcd now, as the members report
// it themselves (their maintenance status, through etcd's JSON gateway on
// the client port). A fault that must hit a follower, or the leader, picks
// its member with it: which member leads changes with every election.
func (l *Lab) EtcdLeader(ctx context.Context) (int, error) {
	tlsCfg, err := l.EtcdClientTLS()
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, h := range l.plan.ControlPlane() {
		tr := &http.Transport{DialContext: netns.DialContext(netns.Path(h.Netns)), TLSClientConfig: tlsCfg}
		member, leader, err := etcdStatus(ctx, tr, etcdURL(h.IP.String(), EtcdClientPort))
		tr.CloseIdleConnections()
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("etcd member %d: %w", h.Index, err))
		case leader == 0:
			errs = append(errs, fmt.Errorf("etcd member %d knows no leader", h.Index))
		case member == leader:
			return h.Index, nil
		}
	}
	return 0, fmt.Errorf("no etcd member says it leads: %w", errors.Join(errs...))
}

// etcdStatus asks the member at url for its ID and its leader's.
func etcdStatus(ctx context.Context, tr http.RoundTripper, url string) (member, leader uint64, err error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v3/maintenance/status", bytes.NewBufferString("{}"))
	if err != nil {
		return 0, 0, err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("status: %s", resp.Status)
	}
	// The gateway writes uint64 fields as JSON strings.
	var body struct {
		Header struct {
			MemberID uint64 `json:"member_id,string"`
		} `json:"header"`
		Leader uint64 `json:"leader,string"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, 0, fmt.Errorf("status: %w", err)
	}
	return body.Header.MemberID, body.Leader, nil
}
