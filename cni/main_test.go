package cni

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMain proves, when it runs as root, that the tests leave the host's own
// network namespace as it found it.
func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		os.Exit(m.Run())
	}
	before, err := rootNetwork()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	after, err := rootNetwork()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if before != after {
		fmt.Fprintf(os.Stderr, "the root network namespace changed:\n--- before\n%s--- after\n%s", before, after)
		code = 1
	}
	os.Exit(code)
}

// rootNetwork is `ip addr` and `ip route` of this process's namespace (the
// host's), without address lifetimes, which tick.
func rootNetwork() (string, error) {
	var b strings.Builder
	for _, args := range [][]string{{"addr"}, {"route"}} {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("ip %s: %w: %s", args[0], err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if !strings.Contains(line, "valid_lft") {
				b.WriteString(line + "\n")
			}
		}
	}
	return b.String(), nil
}
