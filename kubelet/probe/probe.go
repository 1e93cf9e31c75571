package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Result of one probe.
type Result int

const (
	Unknown Result = iota
	Success
	Failure
)

func (r Result) String() string {
	return [...]string{"unknown", "success", "failure"}[r]
}

// Target is what a probe reaches: the pod's address (dialled from the
// kubelet, which lives in the node's network namespace, routed to the pod
// bridge) and a way to run a command in the container.
type Target struct {
	PodIP string
	// Container resolves named ports.
	Container *v1.Container
	// Exec runs cmd in the container and returns its exit code and output.
	Exec func(ctx context.Context, cmd []string) (int, []byte, error)
	// Dial opens network connections; nil means from this process's
	// network namespace.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

func (t Target) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if t.Dial != nil {
		return t.Dial(ctx, network, addr)
	}
	return (&net.Dialer{}).DialContext(ctx, network, addr)
}

// maxBody bounds what is read of an HTTP answer (for the message).
const maxBody = 10 << 10

// Do runs one probe with its timeout and returns the result and, on
// failure, why.
func Do(ctx context.Context, p *v1.Probe, t Target) (Result, string) {
	ctx, cancel := context.WithTimeout(ctx, timeout(p))
	defer cancel()
	h := p.ProbeHandler
	switch {
	case h.HTTPGet != nil:
		return httpGet(ctx, h.HTTPGet, t)
	case h.TCPSocket != nil:
		return tcp(ctx, h.TCPSocket, t)
	case h.Exec != nil:
		return execProbe(ctx, h.Exec, t)
	case h.GRPC != nil:
		return grpcProbe(ctx, h.GRPC, t)
	}
	return Unknown, "the probe has no handler"
}

func httpGet(ctx context.Context, g *v1.HTTPGetAction, t Target) (Result, string) {
	port, err := resolvePort(g.Port, t.Container)
	if err != nil {
		return Failure, err.Error()
	}
	host := g.Host
	if host == "" {
		host = t.PodIP
	}
	scheme := strings.ToLower(string(g.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := g.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port))}
	full := u.String() + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, full, nil)
	if err != nil {
		return Failure, err.Error()
	}
	req.Header.Set("User-Agent", "kube-probe/1.37")
	req.Header.Set("Accept", "*/*")
	for _, h := range g.HTTPHeaders {
		if strings.EqualFold(h.Name, "host") {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	resp, err := httpClient(t).Do(req)
	if err != nil {
		return Failure, err.Error() // a *url.Error: `Get "URL": why`, as upstream says it
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		return Success, ""
	}
	return Failure, fmt.Sprintf("HTTP probe failed with statuscode: %d", resp.StatusCode) + bodyNote(body)
}

// httpClient follows no redirect (a 3xx is a success), checks no
// certificate and keeps no connection, as the kubelet's prober.
func httpClient(t Target) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:       t.dial,
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
			DisableKeepAlives: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func tcp(ctx context.Context, s *v1.TCPSocketAction, t Target) (Result, string) {
	port, err := resolvePort(s.Port, t.Container)
	if err != nil {
		return Failure, err.Error()
	}
	host := s.Host
	if host == "" {
		host = t.PodIP
	}
	c, err := t.dial(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return Failure, err.Error()
	}
	c.Close()
	return Success, ""
}

func execProbe(ctx context.Context, e *v1.ExecAction, t Target) (Result, string) {
	if t.Exec == nil {
		return Unknown, "no way to exec in the container"
	}
	code, out, err := t.Exec(ctx, e.Command)
	switch {
	case ctx.Err() != nil:
		return Failure, fmt.Sprintf("command %q timed out", strings.Join(e.Command, " "))
	case err != nil:
		return Failure, err.Error()
	case code != 0:
		return Failure, fmt.Sprintf("command %q exited with %d", strings.Join(e.Command, " "), code) + bodyNote(out)
	}
	return Success, ""
}

func bodyNote(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return ""
	}
	return ": " + string(b)
}

// resolvePort turns a port number or a container port name into a number.
func resolvePort(p intstr.IntOrString, c *v1.Container) (int, error) {
	if p.Type == intstr.Int {
		if p.IntVal <= 0 || p.IntVal > 65535 {
			return 0, fmt.Errorf("invalid port %d", p.IntVal)
		}
		return int(p.IntVal), nil
	}
	if c != nil {
		for _, cp := range c.Ports {
			if cp.Name == p.StrVal {
				return int(cp.ContainerPort), nil
			}
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("no container port named %q", p.StrVal)
}

func timeout(p *v1.Probe) time.Duration {
	if p.TimeoutSeconds > 0 {
		return time.Duration(p.TimeoutSeconds) * time.Second
	}
	return time.Second
}
