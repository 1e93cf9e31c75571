package cni

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"

	"github.com/kinns/kinns/cni/netns"
)

// natTable reads and writes the nat table of the node's namespace.
// execNAT is the real one; tests use a fake.
type natTable interface {
	// Save returns `iptables-save -t nat`.
	Save(ctx context.Context) (string, error)
	// Restore applies text with `iptables-restore --noflush`: all of it or,
	// on error, nothing.
	Restore(ctx context.Context, text []byte) error
}

// execNAT runs the iptables commands of the host inside the namespace at
// path (the commands' process is forked there).
type execNAT struct{ path string }

func (e execNAT) Save(ctx context.Context) (string, error) {
	out, err := e.run(ctx, nil, "iptables-save", "-t", "nat")
	return string(out), err
}

// Restore waits for the xtables lock rather than fail on it.
func (e execNAT) Restore(ctx context.Context, text []byte) error {
	_, err := e.run(ctx, text, "iptables-restore", "--noflush", "--wait")
	return err
}

func (e execNAT) run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := netns.Start(e.path, cmd)
	if err == nil {
		err = cmd.Wait()
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s in %s: %w: %s", name, strings.Join(args, " "), e.path, err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}
