package pki_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kinns/kinns/controlplane/pki"
)

// holdLock takes the folder's lock as another Generate would; release ends it.
func holdLock(t *testing.T, dir string) (release func()) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return func() { f.Close() }
}

func TestGenerateWaitsForTheLockUntilContextEnds(t *testing.T) {
	cfg, _ := newConfig(t)
	generate(t, cfg)
	holdLock(t, cfg.Dir)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := pki.Generate(ctx, cfg); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Generate while another holds the lock: %v", err)
	}
}

func TestLoadWaitsForAGenerateInProgress(t *testing.T) {
	cfg, _ := newConfig(t)
	generate(t, cfg)
	release := holdLock(t, cfg.Dir)
	done := make(chan error, 1)
	go func() {
		_, err := pki.Load(cfg.Dir)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Load returned while the folder was locked: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	release()
	if err := <-done; err != nil {
		t.Errorf("Load after the lock was released: %v", err)
	}
}
