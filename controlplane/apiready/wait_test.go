package apiready

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestWaitReturnsOnceReadyzIsOK(t *testing.T) {
	var asks atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			t.Errorf("asked %s", r.URL.Path)
		}
		if asks.Add(1) < 3 {
			http.Error(w, "post-start hooks running", http.StatusInternalServerError)
			return
		}
	}))
	defer srv.Close()
	client, err := rest.RESTClientFor(&rest.Config{Host: srv.URL, ContentConfig: rest.ContentConfig{
		GroupVersion: &schema.GroupVersion{}, NegotiatedSerializer: scheme.Codecs.WithoutConversion()}})
	if err != nil {
		t.Fatal(err)
	}
	if err := Wait(context.Background(), client, quiet); err != nil {
		t.Fatal(err)
	}
	if n := asks.Load(); n != 3 {
		t.Errorf("asked %d times, want 3", n)
	}
}

func TestWaitGoesOnPastTheLimit(t *testing.T) {
	err := wait(context.Background(), func(context.Context) error { return errors.New("refused") }, time.Millisecond, 20*time.Millisecond, quiet)
	if err != nil {
		t.Errorf("past the limit: %v, want nil", err)
	}
}

func TestWaitEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := wait(ctx, func(context.Context) error { return errors.New("refused") }, time.Second, time.Minute, quiet)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestWaitWithoutClient(t *testing.T) {
	if err := Wait(context.Background(), nil, quiet); err != nil {
		t.Error(err)
	}
}
