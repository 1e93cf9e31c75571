package registry

import (
	"bufio"
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
)

// Realm is the realm of the Basic challenge of a registry with a user.
const Realm = "kinns"

// ServerConfig is what the registry process serves; Up writes it (0600: it
// holds the password) and Serve reads it.
type ServerConfig struct {
	// Dir holds blobs/ and manifests.jsonl.
	Dir string `json:"dir"`
	// User and Password, when User is set, are the only credentials taken
	// (HTTP Basic); without them the registry is open to anyone on 127.0.0.1.
	User     string `json:"user,omitempty"`
	Password string `json:"password,omitempty"`
}

// Handler is the registry: ggcr's, with blobs on disk under dir/blobs,
// manifests journaled to dir/manifests.jsonl (and replayed from it now), and
// Basic authentication when cfg has a user. Requests are logged to w.
func Handler(cfg ServerConfig, w io.Writer) (http.Handler, error) {
	blobs := filepath.Join(cfg.Dir, "blobs")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		return nil, fmt.Errorf("create blob folder: %w", err)
	}
	reg := ggcr.New(ggcr.WithBlobHandler(ggcr.NewDiskBlobHandler(blobs)), ggcr.Logger(log.New(w, "", log.LstdFlags)))
	j := &journal{path: filepath.Join(cfg.Dir, "manifests.jsonl"), next: reg}
	if err := j.replay(); err != nil {
		return nil, err
	}
	if cfg.User == "" {
		return j, nil
	}
	return basicAuth(cfg.User, cfg.Password, j), nil
}

// Serve serves the registry on ln until ctx ends.
func Serve(ctx context.Context, ln net.Listener, cfg ServerConfig, log *slog.Logger) error {
	h, err := Handler(cfg, os.Stderr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	log.Info("registry serving", "address", ln.Addr().String(), "dir", cfg.Dir, "auth", cfg.User != "")
	select {
	case err := <-done:
		return fmt.Errorf("serve registry: %w", err)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shut)
}

// basicAuth lets through requests with user's credentials and answers others
// 401 with a Basic challenge, as docker, containerd and crane expect.
func basicAuth(user, password string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if ok && subtle.ConstantTimeCompare([]byte(u), []byte(user)) == 1 && subtle.ConstantTimeCompare([]byte(p), []byte(password)) == 1 {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", fmt.Sprintf("Basic realm=%q", Realm))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`+"\n")
	})
}

// journal keeps ggcr's manifests, which it holds in memory only, across
// restarts: every manifest PUT or DELETE the registry accepted is appended
// to a file, and replayed into a new registry before it serves. Blobs are on
// disk already. The file grows with every push (a tag pushed twice is two
// records); Purge removes it.
type journal struct {
	path string
	next http.Handler
	mu   sync.Mutex
}

// entry is one accepted manifest change.
type entry struct {
	Method      string `json:"method"`
	Path        string `json:"path"`
	ContentType string `json:"contentType,omitempty"`
	Body        []byte `json:"body,omitempty"`
}

// maxManifest bounds a manifest's size, as registries do (4 MiB).
const maxManifest = 4 << 20

func (j *journal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !isManifestChange(r) {
		j.next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxManifest+1))
	if err != nil || len(body) > maxManifest {
		http.Error(w, "manifest unreadable or over 4 MiB", http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := &statusRecorder{ResponseWriter: w}
	j.next.ServeHTTP(rec, r)
	if rec.status/100 != 2 {
		return
	}
	e := entry{Method: r.Method, Path: r.URL.Path, ContentType: r.Header.Get("Content-Type")}
	if r.Method == http.MethodPut {
		e.Body = body
	}
	if err := j.append(e); err != nil {
		// The registry has it; only a restart would lose it.
		fmt.Fprintf(os.Stderr, "journal manifest %s: %v\n", r.URL.Path, err)
	}
}

func isManifestChange(r *http.Request) bool {
	if r.Method != http.MethodPut && r.Method != http.MethodDelete {
		return false
	}
	elems := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	return len(elems) >= 4 && elems[0] == "v2" && elems[len(elems)-2] == "manifests"
}

func (j *journal) append(e entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write(append(b, '\n')); err != nil {
		return err
	}
	return f.Sync()
}

// replay applies the journal to the registry, in order; a torn last line
// (the process died mid-write) is skipped.
func (j *journal) replay() error {
	f, err := os.Open(j.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open manifest journal: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 2*maxManifest)
	for sc.Scan() {
		var e entry
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Method == "" {
			continue
		}
		req := httptest.NewRequest(e.Method, e.Path, bytes.NewReader(e.Body))
		if e.ContentType != "" {
			req.Header.Set("Content-Type", e.ContentType)
		}
		j.next.ServeHTTP(httptest.NewRecorder(), req)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read manifest journal %s: %w", j.path, err)
	}
	return nil
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}
