package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	upgradeproxy "k8s.io/apimachinery/pkg/util/proxy"
	streamproxy "k8s.io/apiserver/pkg/util/proxy"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	crirc "k8s.io/cri-streaming/pkg/streaming/remotecommand"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// fakeAPIServer proxies exec and port-forward to the kubelet the way
// kube-apiserver v1.37 does for a node that does not declare
// ExtendWebSocketsToKubelet (pkg/registry/core/pod/rest/subresources.go):
// websocket v5 exec and SPDY-over-websocket tunnels are translated to SPDY
// with the API server's own handlers, anything else is proxied as it is.
func fakeAPIServer(t *testing.T, env *testEnv) *httptest.Server {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(env.ca.pem)
	pair, err := tls.X509KeyPair(env.certs["apiserver"].cert, env.certs["apiserver"].key)
	if err != nil {
		t.Fatal(err)
	}
	kubelet := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}}
	t.Cleanup(kubelet.CloseIdleConnections)

	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		location, _ := url.Parse(env.url + r.URL.Path + "?" + r.URL.RawQuery)
		proxy := upgradeproxy.NewUpgradeAwareHandler(location, kubelet, false, true, testResponder{})
		var h http.Handler
		if opts, err := crirc.NewOptions(r); err == nil && r.URL.Query().Has("command") {
			translator := streamproxy.NewStreamTranslatorHandler(location, kubelet, 0, streamproxy.Options{
				Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr, Tty: opts.TTY,
			})
			h = streamproxy.NewTranslatingHandler(proxy, translator, wsstream.IsWebSocketRequestWithStreamCloseProtocol)
		} else {
			h = streamproxy.NewTranslatingHandler(proxy, streamproxy.NewTunnelingHandler(proxy), wsstream.IsWebSocketRequestWithTunnelingProtocol)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	return front
}

type testResponder struct{}

func (r testResponder) Error(w http.ResponseWriter, _ *http.Request, err error) {
	http.Error(w, err.Error(), http.StatusBadGateway)
}

// TestThroughAPIServerTranslation runs kubectl's own protocols through the
// API server's translation to the kubelet.
func TestThroughAPIServerTranslation(t *testing.T) {
	env := startServer(t)
	front := fakeAPIServer(t, env)
	cfg := &rest.Config{Host: front.URL}

	t.Run("exec websocket v5", func(t *testing.T) {
		for _, tt := range []struct {
			name     string
			cmd      []string
			stdin    string
			wantOut  string
			wantErr  string
			wantCode int
		}{
			{name: "stdin closes", cmd: []string{"cat"}, stdin: "through the api server\n", wantOut: "through the api server\n"},
			{name: "exit code", cmd: []string{"fail", "7"}, wantErr: "bad", wantCode: 7},
		} {
			t.Run(tt.name, func(t *testing.T) {
				ex, err := remotecommand.NewWebSocketExecutor(cfg, "GET", execURL(front.URL, "/exec/default/web/app", tt.cmd, tt.stdin != "", false).String())
				if err != nil {
					t.Fatal(err)
				}
				var stdout, stderr bytes.Buffer
				opts := remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr}
				if tt.stdin != "" {
					opts.Stdin = bytes.NewBufferString(tt.stdin)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				checkExecResult(t, ex.StreamWithContext(ctx, opts), tt.wantCode, false)
				if stdout.String() != tt.wantOut || stderr.String() != tt.wantErr {
					t.Errorf("stdout %q stderr %q, want %q %q", stdout.String(), stderr.String(), tt.wantOut, tt.wantErr)
				}
			})
		}
	})

	t.Run("port-forward websocket tunnel", func(t *testing.T) {
		u, _ := url.Parse(front.URL + "/portForward/default/web")
		dialer, err := portforward.NewSPDYOverWebsocketDialer(u, cfg)
		if err != nil {
			t.Fatal(err)
		}
		local := forwardPorts(t, dialer, "0:8080")
		if got := echoThrough(t, local[0], len("port 8080: ping"), "ping"); got != "port 8080: ping" {
			t.Errorf("reply %q", got)
		}
	})
}
