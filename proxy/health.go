package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/kinns/kinns/proxy/rules"
)

// healthChecks serves the health check node port of every Service with
// externalTrafficPolicy Local, on the node's address: 200 while this node
// has a ready local endpoint, 503 otherwise, so that a load balancer sends
// outside traffic only to nodes that keep it local.
type healthChecks struct {
	ip  string
	log *slog.Logger
	// listen opens a port; tests give one on loopback.
	listen func(addr string) (net.Listener, error)

	mu      sync.Mutex
	servers map[int32]*http.Server
	state   map[int32]rules.HealthCheck
}

func newHealthChecks(ip string, log *slog.Logger) *healthChecks {
	return &healthChecks{
		ip: ip, log: log, listen: func(addr string) (net.Listener, error) { return net.Listen("tcp", addr) },
		servers: map[int32]*http.Server{}, state: map[int32]rules.HealthCheck{},
	}
}

// set serves exactly the ports of want. A port that cannot be opened is
// logged and tried again at the next sync.
func (h *healthChecks) set(want map[int32]rules.HealthCheck) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.state = want
	for port, srv := range h.servers {
		if _, ok := want[port]; !ok {
			srv.Close()
			delete(h.servers, port)
		}
	}
	for port := range want {
		if _, ok := h.servers[port]; ok {
			continue
		}
		ln, err := h.listen(net.JoinHostPort(h.ip, strconv.Itoa(int(port))))
		if err != nil {
			h.log.Warn("open health check node port", "port", port, "err", err)
			continue
		}
		srv := &http.Server{Handler: h.handler(port), ReadHeaderTimeout: 5 * time.Second}
		h.servers[port] = srv
		go srv.Serve(ln)
	}
}

func (h *healthChecks) handler(port int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h.mu.Lock()
		hc := h.state[port]
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		code := http.StatusOK
		if hc.LocalEndpoints == 0 {
			code = http.StatusServiceUnavailable
		}
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]any{
			"service":             map[string]string{"namespace": hc.Service.Namespace, "name": hc.Service.Name},
			"localEndpoints":      hc.LocalEndpoints,
			"serviceProxyHealthy": true,
		})
	})
}

func (h *healthChecks) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for port, srv := range h.servers {
		srv.Close()
		delete(h.servers, port)
	}
}

// healthz is kube-proxy's /healthz: healthy while the rules are current,
// that is the last sync is recent, or nothing has changed since it.
type healthz struct {
	syncPeriod time.Duration
	now        func() time.Time

	mu          sync.Mutex
	lastSync    time.Time // last successful sync
	pendingFrom time.Time // first change not yet applied; zero if none
}

func (z *healthz) changed() {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.pendingFrom.IsZero() {
		z.pendingFrom = z.now()
	}
}

// synced records a successful sync that began at began: changes that
// arrived after it began are still pending.
func (z *healthz) synced(began time.Time) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.lastSync = z.now()
	if !z.pendingFrom.After(began) {
		z.pendingFrom = time.Time{}
	}
}

// check says why the proxy is unhealthy, or nil.
func (z *healthz) check() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	now := z.now()
	switch {
	case z.lastSync.IsZero():
		return errors.New("no sync yet")
	case !z.pendingFrom.IsZero() && now.Sub(z.pendingFrom) > 2*z.syncPeriod:
		return fmt.Errorf("changes pending for %s", now.Sub(z.pendingFrom).Round(time.Millisecond))
	}
	return nil
}

func (z *healthz) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	err := z.check()
	z.mu.Lock()
	last := z.lastSync
	z.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	body := map[string]any{"lastUpdated": last.UTC().Format(time.RFC3339Nano), "currentTime": z.now().UTC().Format(time.RFC3339Nano)}
	if err != nil {
		body["error"] = err.Error()
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(body)
}

// serve runs srv on addr until ctx ends.
func serve(ctx context.Context, addr string, h http.Handler) error {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
