package pki

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

const (
	keyMode  os.FileMode = 0o600
	certMode os.FileMode = 0o644
	dirMode  os.FileMode = 0o700
)

// durability says whether a file must survive a power loss once written. Only
// the roots of trust (CA, service account key) are synced: everything else is
// regenerated from them if a crash leaves it empty, and syncing every leaf
// would triple the time to make a lab's pki.
type durability bool

const (
	durable     durability = true
	regenerable durability = false
)

// writeFile replaces path with data in one rename, so a reader never sees half a
// file. The mode is set explicitly: the umask must not widen or narrow it.
func writeFile(path string, data []byte, mode os.FileMode, d durability) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if err := fillFile(tmp, data, mode, d); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	return nil
}

func fillFile(f *os.File, data []byte, mode os.FileMode, d durability) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil && d == durable {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// writePair stores the key before the certificate: a crash in between leaves a
// certificate that does not match its key, which the next Generate replaces.
func writePair(p *Pair, d durability) error {
	if err := writeFile(p.KeyFile, p.KeyPEM, keyMode, d); err != nil {
		return err
	}
	return writeFile(p.CertFile, p.CertPEM, certMode, d)
}

// lockDir takes an exclusive lock on the pki folder, so two processes generating
// for the same lab do not both make a CA. It waits until ctx is done.
func lockDir(ctx context.Context, p Paths) (unlock func(), err error) {
	f, err := os.OpenFile(p.lockFile(), os.O_CREATE|os.O_RDWR, keyMode)
	if err != nil {
		return nil, fmt.Errorf("lock pki folder %q: %w", p.Dir, err)
	}
	return flock(ctx, f, unix.LOCK_EX)
}

// rlockDir takes a shared lock, so a reader never sees a pair half replaced.
// A folder without a lock file was never written by Generate: nothing to wait for.
func rlockDir(ctx context.Context, p Paths) (unlock func(), err error) {
	f, err := os.Open(p.lockFile())
	if errors.Is(err, fs.ErrNotExist) {
		return func() {}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lock pki folder %q: %w", p.Dir, err)
	}
	return flock(ctx, f, unix.LOCK_SH)
}

// flock polls rather than blocks so that ctx can end the wait. It owns f:
// closing f releases the lock.
func flock(ctx context.Context, f *os.File, how int) (unlock func(), err error) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %q: %w", f.Name(), err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %q: %w", f.Name(), ctx.Err())
		case <-tick.C:
		}
	}
}
