package forward

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestHandshakeTellsAnUpServerFromAStoppedOrPausedOne(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	config := &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	alive := Handshake(config)
	up := srv.Listener.Addr().String()

	paused, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer paused.Close()
	stopped, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stoppedAddr := stopped.Addr().String()
	stopped.Close()

	for target, want := range map[string]bool{up: true, paused.Addr().String(): false, stoppedAddr: false} {
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		err := alive(ctx, target)
		cancel()
		if (err == nil) != want {
			t.Errorf("Handshake(%s) = %v, want alive %t", target, err, want)
		}
	}
}
