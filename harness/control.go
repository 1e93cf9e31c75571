package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// The control socket lets `lab fault` reach the supervisor, the one process that
// holds the lab's component processes and can restart them.
const controlSocket = "control.sock"

// ServeControl answers fault requests on the lab's control socket until ctx is done.
func (l *Lab) ServeControl(ctx context.Context) error {
	path := l.store.Path(controlSocket)
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("listen on control socket: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /fault", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&f); err != nil {
			http.Error(w, "bad fault request: "+err.Error(), http.StatusBadRequest)
			return
		}
		l.log.Info("injecting fault", "fault", f.String())
		if err := l.Inject(r.Context(), f); err != nil {
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	srv := &http.Server{Handler: mux}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// RequestFault asks the supervisor of an attached lab to inject f.
func (l *Lab) RequestFault(ctx context.Context, f Fault) error {
	path := l.store.Path(controlSocket)
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		},
	}, Timeout: 2 * time.Minute}
	body, _ := json.Marshal(f)
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://lab/fault", strings.NewReader(string(body)))
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("reach the supervisor of lab %s (is it up? see `lab status`): %w", l.Name(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		msg, _ := io.ReadAll(resp.Body)
		return errors.New(strings.TrimSpace(string(msg)))
	}
	return nil
}
