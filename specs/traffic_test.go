package specs

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"golang.org/x/sys/unix"

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
	// stalls are the times this process did not run for a while (a
	// sleeper woke late): a request in flight then may fail on its own
	// deadline, not the lab's fault. Failures say which overlapped one.
	stalls []stall
}

// stall is a time the test process itself did not run.
type stall struct {
	from time.Time
	took time.Duration
}

// stallOver is how late a 20 ms sleep must wake to count as a stall.
const stallOver = 250 * time.Millisecond

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
	go t.watchStalls(ctx)
	DeferCleanup(t.halt)
	return t
}

// hostClient makes its connections inside the network namespace ns (the
// socket is made on a thread in ns and keeps it), and none is reused.
func hostClient(ns string, timeout time.Duration) *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		var where, tracked string
		err := netns.Do(netns.Path(ns), func() error {
			var err error
			before := threadNetns()
			// A duplicate of the socket outlives a failed dial long enough
			// to ask which source port the kernel gave it.
			dup := -1
			d := &net.Dialer{Timeout: timeout / 2, ControlContext: func(_ context.Context, _, _ string, rc syscall.RawConn) error {
				return rc.Control(func(fd uintptr) { dup, _ = unix.Dup(int(fd)) })
			}}
			c, err = d.DialContext(ctx, network, addr)
			if dup >= 0 {
				if err != nil {
					tracked = conntrackOf(dup)
				}
				unix.Close(dup)
			}
			if after, want := threadNetns(), nsInode(ns); before != want || after != want {
				where = fmt.Sprintf(" [thread in %s before the dial and %s after, not %s's %s]", before, after, ns, want)
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("connect: %w%s%s", err, where, tracked)
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

// watchStalls notes when this process stops running for longer than
// stallOver: a sleeper that wakes that late was not scheduled.
func (t *traffic) watchStalls(ctx context.Context) {
	const nap = 20 * time.Millisecond
	for ctx.Err() == nil {
		before := time.Now()
		time.Sleep(nap)
		if late := time.Since(before) - nap; late > stallOver {
			t.mu.Lock()
			t.stalls = append(t.stalls, stall{from: before, took: late + nap})
			t.mu.Unlock()
		}
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
			out = append(out, a.at.Format("15:04:05.000")+" "+a.err+t.stalledDuring(a.at))
		}
	}
	return out
}

// stalledDuring says which stalls of the process overlapped the two
// seconds a request starting at at could take.
func (t *traffic) stalledDuring(at time.Time) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b strings.Builder
	for _, s := range t.stalls {
		if s.from.Before(at.Add(2*time.Second)) && s.from.Add(s.took).After(at) {
			fmt.Fprintf(&b, " [the test process stalled %s from %s]", s.took.Round(time.Millisecond), s.from.Format("15:04:05.000"))
		}
	}
	return b.String()
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
	t.mu.Lock()
	stalls := len(t.stalls)
	t.mu.Unlock()
	return fmt.Sprintf("%d requests, %d failed, answered by %v; %d stalls of the test process over %s", len(all), failed, by, stalls, stallOver)
}

// conntrackOf says which source port the socket fd had and what the
// conntrack table of the calling thread's namespace holds for it then.
func conntrackOf(fd int) string {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return " [getsockname: " + err.Error() + "]"
	}
	in, ok := sa.(*unix.SockaddrInet4)
	if !ok || in.Port == 0 {
		return " [no source port]"
	}
	table, err := os.ReadFile("/proc/thread-self/net/nf_conntrack")
	if err != nil {
		return fmt.Sprintf(" [from port %d; conntrack: %v]", in.Port, err)
	}
	var found []string
	for _, l := range strings.Split(string(table), "\n") {
		if strings.Contains(l, fmt.Sprintf(" sport=%d ", in.Port)) {
			found = append(found, strings.Join(strings.Fields(l)[2:], " "))
		}
	}
	return fmt.Sprintf(" [from port %d; its conntrack entries: %q]", in.Port, found)
}

// threadNetns names the network namespace of the calling thread.
func threadNetns() string {
	l, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		return err.Error()
	}
	return l
}

// nsInode names the namespace mounted for ns as threadNetns does.
func nsInode(ns string) string {
	var st unix.Stat_t
	if err := unix.Stat(netns.Path(ns), &st); err != nil {
		return err.Error()
	}
	return fmt.Sprintf("net:[%d]", st.Ino)
}
