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
		faultReply(w, l.Inject(r.Context(), f))
	})
	mux.HandleFunc("POST /heal-all", func(w http.ResponseWriter, r *http.Request) {
		l.log.Info("healing every fault")
		faultReply(w, l.HealAll(r.Context()))
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

// faultReply answers a fault request: 204, 400 for a fault as written
// wrong, 422 for one that failed.
func faultReply(w http.ResponseWriter, err error) {
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, ErrBadFault):
		http.Error(w, err.Error(), http.StatusBadRequest)
	default:
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
	}
}

// RequestFault asks the supervisor of an attached lab to inject f.
func (l *Lab) RequestFault(ctx context.Context, f Fault) error {
	return l.request(ctx, "/fault", f)
}

// RequestHealAll asks the supervisor of an attached lab to mend every fault.
func (l *Lab) RequestHealAll(ctx context.Context) error {
	return l.request(ctx, "/heal-all", struct{}{})
}

func (l *Lab) request(ctx context.Context, path string, body any) error {
	sock := l.store.Path(controlSocket)
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}, Timeout: 2 * time.Minute}
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://lab"+path, strings.NewReader(string(b)))
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("reach the supervisor of lab %s (is it up? see `lab status`): %w", l.Name(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		msg, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusBadRequest {
			return badFault(strings.TrimSpace(string(msg)))
		}
		return errors.New(strings.TrimSpace(string(msg)))
	}
	return nil
}

// badFault is a refusal the supervisor sent back: its text as it is, and
// errors.Is(err, ErrBadFault).
type badFault string

func (e badFault) Error() string        { return string(e) }
func (e badFault) Is(target error) bool { return target == ErrBadFault }
