package harness

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"

	"github.com/kinns/kinns/harness/netns"
)

// Command prepares argv to run inside host's network namespace; start it with
// (*Lab).Start or run it with (*Lab).Run.
func (l *Lab) Command(ctx context.Context, host string, argv ...string) (*exec.Cmd, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("no command given to run in %s", host)
	}
	if _, err := l.Host(host); err != nil {
		return nil, err
	}
	return exec.CommandContext(ctx, argv[0], argv[1:]...), nil
}

// Start starts cmd inside host's namespace.
func (l *Lab) Start(host string, cmd *exec.Cmd) error {
	h, err := l.Host(host)
	if err != nil {
		return err
	}
	if !netns.Exists(h.Netns) {
		return fmt.Errorf("host %s of lab %s is gone (no namespace %s)", host, l.Name(), h.Netns)
	}
	return netns.Start(netns.Path(h.Netns), cmd)
}

// Exec runs argv inside host's namespace and returns what it printed (stdout and
// stderr together). A failure is a *RunError carrying that output.
func (l *Lab) Exec(ctx context.Context, host string, argv ...string) ([]byte, error) {
	cmd, err := l.Command(ctx, host, argv...)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := l.Start(host, cmd); err != nil {
		return nil, &RunError{Host: host, Argv: argv, Err: err}
	}
	if err := cmd.Wait(); err != nil {
		return out.Bytes(), &RunError{Host: host, Argv: argv, Output: out.Bytes(), Err: err}
	}
	return out.Bytes(), nil
}
