package harness

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/kinns/kinns/cni/netns"
)

// EtcdLeader says which member (1-3) leads etcd now, as the members report
// it themselves (etcd_server_is_leader on their /metrics). A fault that
// must hit a follower, or the leader, picks its member with it: which
// member leads changes with every election.
func (l *Lab) EtcdLeader(ctx context.Context) (int, error) {
	tlsCfg, err := l.EtcdClientTLS()
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, h := range l.plan.ControlPlane() {
		tr := &http.Transport{DialContext: netns.DialContext(netns.Path(h.Netns)), TLSClientConfig: tlsCfg}
		leads, err := etcdIsLeader(ctx, tr, etcdURL(h.IP.String(), EtcdHTTPPort)+"/metrics")
		tr.CloseIdleConnections()
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("etcd member %d: %w", h.Index, err))
		case leads:
			return h.Index, nil
		}
	}
	return 0, fmt.Errorf("no etcd member says it leads: %w", errors.Join(errs...))
}

// etcdIsLeader reads the member's etcd_server_is_leader gauge.
func etcdIsLeader(ctx context.Context, tr http.RoundTripper, url string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("metrics: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "etcd_server_is_leader "); ok {
			return strings.TrimSpace(v) == "1", nil
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("metrics: %w", err)
	}
	return false, errors.New("metrics: no etcd_server_is_leader")
}
