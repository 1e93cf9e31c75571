package harness

import (
	"fmt"
	"os"
	"os/exec"
)

// need is one thing the machine must have, and what provides it.
type need struct {
	what    string
	check   func() error
	provide string
}

func preflight(cfg Config) error {
	needs := []need{
		{"root", isRoot, "run lab as root (sudo lab …)"},
		{"network namespaces", fileExists("/proc/self/ns/net"), "a kernel with CONFIG_NET_NS"},
		{"iptables", binary("iptables"), "apt-get install iptables"},
	}
	if cfg.ContainerdAddress == "" {
		needs = append(needs,
			need{"containerd", binary("containerd"), "apt-get install containerd, or pass --containerd-address"},
			need{"runc", binary("runc"), "apt-get install runc"},
		)
	}
	for _, n := range needs {
		if err := n.check(); err != nil {
			return fmt.Errorf("%w: %s is missing (%v): %s", ErrPreflight, n.what, err, n.provide)
		}
	}
	return nil
}

func isRoot() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("running as uid %d", os.Geteuid())
	}
	return nil
}

func fileExists(p string) func() error {
	return func() error { _, err := os.Stat(p); return err }
}

func binary(name string) func() error {
	return func() error { _, err := exec.LookPath(name); return err }
}
