package proxy

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// Tables are what the proxy reads and writes, filter first as it renders.
var tables = []string{"filter", "nat"}

// IPTables reads and writes the rules of the namespace the proxy runs in.
// *ExecIPTables is the real one; tests use a fake.
type IPTables interface {
	// Save returns `iptables-save -t table` output.
	Save(ctx context.Context, table string) ([]byte, error)
	// Restore applies text with `iptables-restore --noflush`: all of it or,
	// on error, nothing.
	Restore(ctx context.Context, text []byte) error
}

// ExecIPTables runs the iptables commands of the machine, in the network
// namespace the process runs in, or where Start starts them.
type ExecIPTables struct {
	// Start starts a command; nil means cmd.Start. A tool outside the node
	// (a benchmark) passes one that starts it in the node's namespace.
	Start func(*exec.Cmd) error
}

func (e ExecIPTables) Save(ctx context.Context, table string) ([]byte, error) {
	return e.run(ctx, nil, "iptables-save", "-t", table)
}

// Restore waits for the xtables lock rather than fail on it.
func (e ExecIPTables) Restore(ctx context.Context, text []byte) error {
	_, err := e.run(ctx, text, "iptables-restore", "--noflush", "--wait")
	return err
}

func (e ExecIPTables) run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	start := e.Start
	if start == nil {
		start = (*exec.Cmd).Start
	}
	err := start(cmd)
	if err == nil {
		err = cmd.Wait()
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

// saved is what iptables-save says of one table: its chains, and the
// (chain, target) pairs of its rules.
type saved struct {
	chains []string
	jumps  map[[2]string]bool
}

// parseSave reads iptables-save output. Only chain names and rule targets
// matter here: what a rule of ours says is rewritten at every sync anyway.
func parseSave(text []byte) saved {
	s := saved{jumps: map[[2]string]bool{}}
	for line := range strings.Lines(string(text)) {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, ":"):
			if name, _, ok := strings.Cut(line[1:], " "); ok {
				s.chains = append(s.chains, name)
			}
		case strings.HasPrefix(line, "-A "):
			fields := strings.Fields(line)
			for i := 2; i+1 < len(fields); i++ {
				if fields[i] == "-j" {
					s.jumps[[2]string{fields[1], fields[i+1]}] = true
				}
			}
		}
	}
	return s
}

// restoreArgs renders exec arguments as one line of iptables-restore
// input, quoting those with spaces (comments).
func restoreArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " \t\"") {
			a = `"` + strings.ReplaceAll(a, `"`, `\"`) + `"`
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
