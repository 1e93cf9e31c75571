package specs

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/kinns/kinns/cni/netns"
	"github.com/kinns/kinns/harness"
)

// traffic is a bounded client that asks a URL at a fixed rate from inside a
// lab host, for the length of a spec, and keeps every answer with its time.
type traffic struct {
	mu      sync.Mutex
	answers []answer
	stop    context.CancelFunc
	done    chan struct{}
}

// answer is one request: who answered, or why it failed.
type answer struct {
	at      time.Time
	backend string // the body of /hostname
	err     string
}

// startTraffic asks url from host every period (each request a new
// connection, so each may go to another endpoint) until the spec ends or
// stop is called. Requests give up after two seconds, connecting after one.
func startTraffic(lab *harness.Lab, host, url string, period time.Duration) *traffic {
	GinkgoHelper()
	h, err := lab.Host(host)
	if err != nil {
		Fail(err.Error())
	}
	client := hostClient(h.Netns, 2*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	t := &traffic{stop: cancel, done: make(chan struct{})}
	go t.run(ctx, client, url, period)
	DeferCleanup(t.halt)
	return t
}

// hostClient makes its connections inside the network namespace ns (the
// socket is made on a thread in ns and keeps it), and none is reused.
func hostClient(ns string, timeout time.Duration) *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := netns.Do(netns.Path(ns), func() error {
			var err error
			c, err = (&net.Dialer{Timeout: timeout / 2}).DialContext(ctx, network, addr)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("connect: %w", err)
		}
		return c, nil
	}
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true, Proxy: nil}}
}

func (t *traffic) run(ctx context.Context, client *http.Client, url string, period time.Duration) {
	defer close(t.done)
	tick := time.NewTicker(period)
	defer tick.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		wg.Go(func() { t.add(ask(ctx, client, url)) })
	}
}

func ask(ctx context.Context, client *http.Client, url string) answer {
	a := answer{at: time.Now()}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return answer{} // the loop stopped, not the service
		}
		a.err = err.Error()
		return a
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		a.err = "read: " + err.Error()
	case resp.StatusCode != http.StatusOK:
		a.err = resp.Status
	default:
		a.backend = strings.TrimSpace(string(body))
	}
	return a
}

func (t *traffic) add(a answer) {
	if a.at.IsZero() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.answers = append(t.answers, a)
}

// halt stops the loop and waits for the requests in flight.
func (t *traffic) halt() {
	t.stop()
	<-t.done
}

// since returns the answers given at or after from.
func (t *traffic) since(from time.Time) []answer {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []answer
	for _, a := range t.answers {
		if !a.at.Before(from) {
			out = append(out, a)
		}
	}
	return out
}

// failures lists the failed requests at or after from, each with its time.
func (t *traffic) failures(from time.Time) []string {
	var out []string
	for _, a := range t.since(from) {
		if a.err != "" {
			out = append(out, a.at.Format("15:04:05.000")+" "+a.err)
		}
	}
	return out
}

// summary is what the loop saw: requests, failures, answers by backend.
func (t *traffic) summary() string {
	all := t.since(time.Time{})
	by := map[string]int{}
	failed := 0
	for _, a := range all {
		if a.err != "" {
			failed++
		} else {
			by[a.backend]++
		}
	}
	return fmt.Sprintf("%d requests, %d failed, answered by %v", len(all), failed, by)
}
