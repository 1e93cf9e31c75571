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

// ExecIPTables runs the iptables commands of the machine. Wait makes them
// wait for the xtables lock rather than fail.
type ExecIPTables struct{}

func (ExecIPTables) Save(ctx context.Context, table string) ([]byte, error) {
	return runCmd(ctx, nil, "iptables-save", "-t", table)
}

func (ExecIPTables) Restore(ctx context.Context, text []byte) error {
	_, err := runCmd(ctx, text, "iptables-restore", "--noflush", "--wait")
	return err
}

func runCmd(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
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
