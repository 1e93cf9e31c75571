package registry

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/kinns/kinns/harness/proc"
)

// DefaultPort is the port of kind's local-registry recipe.
const DefaultPort = 5001

// Registry is the registry of one port of 127.0.0.1, and its files.
type Registry struct {
	// StateRoot is kinns' state root; the registry keeps its files in
	// StateRoot/registries/PORT.
	StateRoot string
	Port      int
	// Binary is the `lab` executable whose `registry serve` Up starts.
	Binary string
	Log    *slog.Logger
}

// Info is a registry's record, as Up wrote it, and whether it still runs.
type Info struct {
	Port int `json:"port"`
	// Address is where it listens (127.0.0.1:PORT); Host is how images name
	// it (localhost:PORT).
	Address string    `json:"address"`
	Host    string    `json:"host"`
	Process proc.ID   `json:"process"`
	User    string    `json:"user,omitempty"`
	Started time.Time `json:"started"`
	Dir     string    `json:"dir"`
	Running bool      `json:"running"`
}

// ErrNotRunning means no registry process runs on the port.
var ErrNotRunning = errors.New("no registry is running")

// ErrPortInUse means another program listens on the port.
var ErrPortInUse = errors.New("port in use")

// Dir holds the registry's blobs, manifest journal, log, config and record.
func (r Registry) Dir() string {
	return filepath.Join(RegistriesDir(r.StateRoot), strconv.Itoa(r.Port))
}

// RegistriesDir holds one folder per port.
func RegistriesDir(stateRoot string) string { return filepath.Join(stateRoot, "registries") }

// ConfigPath is the ServerConfig the registry process reads.
func (r Registry) ConfigPath() string { return filepath.Join(r.Dir(), "config.json") }

// LogPath is the registry process's log.
func (r Registry) LogPath() string { return filepath.Join(r.Dir(), "registry.log") }

func (r Registry) recordPath() string { return filepath.Join(r.Dir(), "registry.json") }

// Address is 127.0.0.1:PORT; Host is localhost:PORT, the name images use
// (containerd and go-containerregistry speak plain HTTP to localhost).
func (r Registry) Address() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.Port)) }
func (r Registry) Host() string    { return net.JoinHostPort("localhost", strconv.Itoa(r.Port)) }

// Options are what Up sets up.
type Options struct {
	// User and Password, if User is set, make the registry private: HTTP
	// Basic, realm "kinns".
	User, Password string
	// Wait bounds how long the new registry may take to answer /v2/
	// (default 15s).
	Wait time.Duration
}

// Up starts the registry in the background unless it runs already, and
// waits until it answers /v2/. It reports whether it was already running; a
// registry already running with other credentials is an error.
func (r Registry) Up(ctx context.Context, o Options) (Info, bool, error) {
	if err := checkPort(r.Port); err != nil {
		return Info{}, false, err
	}
	unlock, err := r.lock()
	if err != nil {
		return Info{}, false, err
	}
	defer unlock()
	if info, err := r.Status(); err == nil && info.Running {
		return info, true, r.sameCredentials(info, o)
	}
	info, err := r.start(ctx, o)
	return info, false, err
}

func checkPort(port int) error {
	if port < 1 || port > 65535 {
		return fmt.Errorf("invalid port %d: use 1-65535", port)
	}
	return nil
}

func (r Registry) sameCredentials(info Info, o Options) error {
	cfg, err := r.ServerConfig()
	if err != nil {
		return err
	}
	if cfg.User == o.User && cfg.Password == o.Password {
		return nil
	}
	now := "without --user"
	if cfg.User != "" {
		now = fmt.Sprintf("with user %q", cfg.User)
	}
	return fmt.Errorf("a registry already runs on %s (pid %d) %s: take it down first with `lab registry down --port %d`",
		info.Address, info.Process.PID, now, r.Port)
}

func (r Registry) start(ctx context.Context, o Options) (Info, error) {
	if r.Binary == "" {
		return Info{}, errors.New("registry: no lab binary to run the registry with")
	}
	ln, err := net.Listen("tcp", r.Address())
	if errors.Is(err, syscall.EADDRINUSE) {
		return Info{}, fmt.Errorf("%w: %s is taken by another program; pick another port with --port", ErrPortInUse, r.Address())
	}
	if err != nil {
		return Info{}, fmt.Errorf("listen on %s: %w", r.Address(), err)
	}
	defer ln.Close()
	if err := r.writeConfig(ServerConfig{Dir: r.Dir(), User: o.User, Password: o.Password}); err != nil {
		return Info{}, err
	}
	cmd, exited, err := r.spawn(ln.(*net.TCPListener))
	if err != nil {
		return Info{}, err
	}
	id, err := proc.Identify(cmd.Process.Pid)
	if err != nil {
		cmd.Process.Kill()
		return Info{}, err
	}
	info := Info{Port: r.Port, Address: r.Address(), Host: r.Host(), Process: id, User: o.User, Started: time.Now().UTC(), Dir: r.Dir(), Running: true}
	if err := r.writeRecord(info); err != nil {
		proc.Kill(ctx, id)
		return Info{}, err
	}
	if err := r.waitServing(ctx, exited, cmp.Or(o.Wait, 15*time.Second)); err != nil {
		proc.Stop(context.Background(), id, 5*time.Second)
		os.Remove(r.recordPath())
		return Info{}, fmt.Errorf("registry did not answer on %s; its log is %s (last lines: %s): %w", r.Address(), r.LogPath(), proc.LogTail(r.LogPath(), 5), err)
	}
	r.logger().Info("registry up", "address", r.Address(), "pid", id.PID)
	return info, nil
}

// spawn starts `lab registry serve` in its own session with ln as fd 3.
func (r Registry) spawn(ln *net.TCPListener) (*exec.Cmd, <-chan error, error) {
	lf, err := ln.File()
	if err != nil {
		return nil, nil, fmt.Errorf("pass the listener on: %w", err)
	}
	defer lf.Close()
	logf, err := os.OpenFile(r.LogPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("open registry log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(r.Binary, "registry", "serve", "--port", strconv.Itoa(r.Port), "--state-root", r.StateRoot, "--listen-fd", "3")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{lf}
	// Its own session: it outlives the command that started it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start %s registry serve: %w", r.Binary, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	return cmd, exited, nil
}

// waitServing polls /v2/ until it answers 200 (open) or 401 (private).
func (r Registry) waitServing(ctx context.Context, exited <-chan error, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	pause := 10 * time.Millisecond
	var last error
	for {
		if last = ping(ctx, client, "http://"+r.Address()+"/v2/"); last == nil {
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("the registry process exited: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("no answer after %s: %w", timeout, last)
		case <-time.After(pause):
		}
		pause = min(pause*2, 200*time.Millisecond)
	}
}

func ping(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// Down stops the registry by its recorded process (PID and start time) and
// removes its record; with purge, its images too. A registry that is not
// running is ErrNotRunning (its images, if any, are purged all the same).
func (r Registry) Down(ctx context.Context, purge bool) error {
	if err := checkPort(r.Port); err != nil {
		return err
	}
	if _, err := os.Stat(r.Dir()); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w on %s", ErrNotRunning, r.Address())
	}
	unlock, err := r.lock()
	if err != nil {
		return err
	}
	defer unlock()
	info, err := r.Status()
	var stopErr error
	switch {
	case errors.Is(err, ErrNotRunning):
		stopErr = err
	case err != nil:
		return err
	default:
		if err := proc.Stop(ctx, info.Process, 5*time.Second); err != nil {
			return fmt.Errorf("stop registry (pid %d): %w", info.Process.PID, err)
		}
		if !info.Running {
			stopErr = fmt.Errorf("%w on %s (its process %d was gone)", ErrNotRunning, r.Address(), info.Process.PID)
		}
		if err := os.Remove(r.recordPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove registry record: %w", err)
		}
	}
	if purge {
		if err := os.RemoveAll(r.Dir()); err != nil {
			return fmt.Errorf("remove the registry's images in %s: %w", r.Dir(), err)
		}
	}
	return stopErr
}

// Status reads the registry's record and checks its process; no record is
// ErrNotRunning.
func (r Registry) Status() (Info, error) {
	var info Info
	b, err := os.ReadFile(r.recordPath())
	if errors.Is(err, os.ErrNotExist) {
		return info, fmt.Errorf("%w on %s: start one with `lab registry up --port %d`", ErrNotRunning, r.Address(), r.Port)
	}
	if err != nil {
		return info, fmt.Errorf("read registry record: %w", err)
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, fmt.Errorf("parse %s: %w", r.recordPath(), err)
	}
	info.Running = info.Process.Alive()
	return info, nil
}

// List returns the record of every registry under stateRoot, by port.
func List(stateRoot string) ([]Info, error) {
	ents, err := os.ReadDir(RegistriesDir(stateRoot))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list registries: %w", err)
	}
	var out []Info
	for _, e := range ents {
		port, err := strconv.Atoi(e.Name())
		if err != nil || !e.IsDir() {
			continue
		}
		if info, err := (Registry{StateRoot: stateRoot, Port: port}).Status(); err == nil {
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Port < out[j].Port })
	return out, nil
}

// ServerConfig reads what the registry process serves.
func (r Registry) ServerConfig() (ServerConfig, error) {
	var cfg ServerConfig
	b, err := os.ReadFile(r.ConfigPath())
	if err != nil {
		return cfg, fmt.Errorf("read registry config: %w", err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return cfg, fmt.Errorf("parse %s: %w", r.ConfigPath(), err)
	}
	return cfg, nil
}

func (r Registry) writeConfig(cfg ServerConfig) error {
	b, _ := json.Marshal(cfg)
	return writeAtomic(r.ConfigPath(), b, 0o600)
}

func (r Registry) writeRecord(info Info) error {
	b, _ := json.MarshalIndent(info, "", "  ")
	return writeAtomic(r.recordPath(), b, 0o644)
}

func writeAtomic(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}

// lock serialises Up and Down of one port between processes.
func (r Registry) lock() (func(), error) {
	if err := os.MkdirAll(r.Dir(), 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", r.Dir(), err)
	}
	f, err := os.OpenFile(filepath.Join(r.Dir(), "lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open registry lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock registry %d: %w", r.Port, err)
	}
	return func() { f.Close() }, nil
}

func (r Registry) logger() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}
