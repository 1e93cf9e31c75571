package containerd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/kinns/kinns/harness/proc"
)

// Daemon is the host-wide containerd that labs share.
type Daemon struct {
	// Root holds the config, the log, the daemon's own root and the holders.
	Root string
	// RunDir holds the socket and containerd's state (tmpfs is best).
	RunDir string
	// Binary is the containerd executable (default: found in PATH).
	Binary string
	Log    *slog.Logger
}

// NewDaemon returns the daemon whose files live under stateRoot/containerd and
// /run/kinns/containerd.
func NewDaemon(stateRoot string, log *slog.Logger) Daemon {
	return Daemon{
		Root:   filepath.Join(stateRoot, "containerd"),
		RunDir: "/run/kinns/containerd",
		Log:    log,
	}
}

// Address is the daemon's gRPC socket.
func (d Daemon) Address() string { return filepath.Join(d.RunDir, "containerd.sock") }

// LogPath is where the daemon writes its log.
func (d Daemon) LogPath() string { return filepath.Join(d.Root, "containerd.log") }

// DataRoot is the daemon's own root: its content store and snapshots, the
// filesystem the kubelets' image garbage collection measures.
func (d Daemon) DataRoot() string { return filepath.Join(d.Root, "root") }

func (d Daemon) configPath() string { return filepath.Join(d.Root, "config.toml") }
func (d Daemon) recordPath() string { return filepath.Join(d.Root, "daemon.json") }
func (d Daemon) holdersDir() string { return filepath.Join(d.Root, "holders") }
func (d Daemon) lockPath() string   { return filepath.Join(d.Root, "lock") }
func (d Daemon) holderPath(h string) string {
	return filepath.Join(d.holdersDir(), h+".json")
}

// startTimeout bounds how long a fresh daemon may take to serve.
const startTimeout = 30 * time.Second

// Acquire makes sure the daemon runs and serves, and records holder (held by the
// process owner) so that it keeps running until Release. It returns the address.
func (d Daemon) Acquire(ctx context.Context, holder string, owner proc.ID) (string, error) {
	unlock, err := d.lock()
	if err != nil {
		return "", err
	}
	defer unlock()
	if err := d.ensureRunning(ctx); err != nil {
		return "", err
	}
	b, _ := json.Marshal(owner)
	if err := os.WriteFile(d.holderPath(holder), b, 0o644); err != nil {
		return "", fmt.Errorf("record containerd holder %s: %w", holder, err)
	}
	return d.Address(), nil
}

// Release forgets holder; once no live holder is left, the daemon is stopped.
func (d Daemon) Release(ctx context.Context, holder string) error {
	if _, err := os.Stat(d.Root); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	unlock, err := d.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if err := os.Remove(d.holderPath(holder)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove containerd holder %s: %w", holder, err)
	}
	live, err := d.liveHolders()
	if err != nil || len(live) > 0 {
		return err
	}
	return d.stop(ctx)
}

// Holders lists the holders whose process is alive.
func (d Daemon) Holders() ([]string, error) { return d.liveHolders() }

// Running reports the daemon's process if it is alive.
func (d Daemon) Running() (proc.ID, bool) {
	id, err := d.readRecord()
	return id, err == nil && id.Alive()
}

func (d Daemon) ensureRunning(ctx context.Context) error {
	if id, ok := d.Running(); ok {
		// Started by someone else, maybe still starting: give it the same time.
		if err := WaitServing(ctx, d.Address(), startTimeout); err != nil {
			return fmt.Errorf("containerd (pid %d) does not serve on %s; see %s: %w", id.PID, d.Address(), d.LogPath(), err)
		}
		return nil
	}
	return d.start(ctx)
}

func (d Daemon) start(ctx context.Context) error {
	bin := d.Binary
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("containerd"); err != nil {
			return fmt.Errorf("containerd is not installed (apt-get install containerd runc), or pass --containerd-address of a running daemon: %w", err)
		}
	}
	if err := d.writeConfig(); err != nil {
		return err
	}
	os.Remove(d.Address())
	logf, err := os.OpenFile(d.LogPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open containerd log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "--config", d.configPath())
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own session: it outlives the lab that started it and gets none of its
	// terminal's signals.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	id, err := proc.Identify(cmd.Process.Pid)
	if err != nil {
		cmd.Process.Kill()
		return err
	}
	if err := d.writeRecord(id); err != nil {
		cmd.Process.Kill()
		return err
	}
	d.logger().Info("starting containerd", "pid", id.PID, "address", d.Address(), "log", d.LogPath())
	waitCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case err := <-exited:
			d.logger().Warn("containerd exited", "err", err)
			cancel()
		case <-waitCtx.Done():
		}
	}()
	if err := WaitServing(waitCtx, d.Address(), startTimeout); err != nil {
		proc.Stop(context.Background(), id, 5*time.Second)
		return fmt.Errorf("containerd did not start serving on %s; its log is %s (last lines: %s): %w", d.Address(), d.LogPath(), proc.LogTail(d.LogPath(), 5), err)
	}
	return nil
}

func (d Daemon) stop(ctx context.Context) error {
	id, err := d.readRecord()
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	d.logger().Info("stopping containerd: no lab holds it", "pid", id.PID)
	if err := proc.Stop(ctx, id, 10*time.Second); err != nil {
		return fmt.Errorf("stop containerd: %w", err)
	}
	os.Remove(d.recordPath())
	return nil
}

func (d Daemon) writeConfig() error {
	cfg := fmt.Sprintf(`# Written by kinns: the containerd that kinns labs share.
version = 2
root = %q
state = %q
# No CRI: kinns' kubelet drives containerd through its Go client.
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
]

[grpc]
  address = %q

[ttrpc]
  address = %q
`, d.DataRoot(), filepath.Join(d.RunDir, "state"), d.Address(), d.Address()+".ttrpc")
	if err := os.WriteFile(d.configPath(), []byte(cfg), 0o644); err != nil {
		return fmt.Errorf("write containerd config: %w", err)
	}
	return nil
}

// lock takes the host-wide containerd lock, so that two labs starting at once
// start one daemon.
func (d Daemon) lock() (func(), error) {
	for _, dir := range []string{d.Root, d.holdersDir(), d.RunDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", dir, err)
		}
	}
	f, err := os.OpenFile(d.lockPath(), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open containerd lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", d.lockPath(), err)
	}
	return func() { f.Close() }, nil
}

func (d Daemon) liveHolders() ([]string, error) {
	ents, err := os.ReadDir(d.holdersDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list containerd holders: %w", err)
	}
	var live []string
	for _, e := range ents {
		p := filepath.Join(d.holdersDir(), e.Name())
		var owner proc.ID
		b, err := os.ReadFile(p)
		if err == nil && json.Unmarshal(b, &owner) == nil && owner.Alive() {
			live = append(live, strings.TrimSuffix(e.Name(), ".json"))
			continue
		}
		os.Remove(p) // stale: its process died without releasing
	}
	return live, nil
}

func (d Daemon) readRecord() (proc.ID, error) {
	var id proc.ID
	b, err := os.ReadFile(d.recordPath())
	if err != nil {
		return id, err
	}
	if err := json.Unmarshal(b, &id); err != nil {
		return id, fmt.Errorf("parse %s: %w", d.recordPath(), err)
	}
	return id, nil
}

func (d Daemon) writeRecord(id proc.ID) error {
	b, _ := json.Marshal(id)
	if err := os.WriteFile(d.recordPath(), b, 0o644); err != nil {
		return fmt.Errorf("record containerd pid: %w", err)
	}
	return nil
}

func (d Daemon) logger() *slog.Logger {
	if d.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Log
}
