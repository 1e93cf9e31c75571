package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// SupervisorLog is the name `lab logs` gives the log of the lab's own
// background process.
const SupervisorLog = "lab"

// LogNames lists what has a log in the lab, as `lab logs` names it:
// components (apiserver, etcd-2, kubelet/node-1…) and the supervisor (lab).
func (l *Lab) LogNames() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(l.store.Dir(), "logs"))
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("list the logs of lab %s: %w", l.Name(), err)
	}
	names := []string{}
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".log"); ok && !e.IsDir() {
			// LogPath writes kubelet/node-1 as kubelet_node-1.
			names = append(names, strings.Replace(n, "_", "/", 1))
		}
	}
	if _, err := os.Stat(l.store.Path("lab.log")); err == nil {
		names = append(names, SupervisorLog)
	}
	slices.Sort(names)
	return names, nil
}

// LogFile returns the path of the log that `lab logs name` shows.
func (l *Lab) LogFile(name string) (string, error) {
	names, err := l.LogNames()
	if err != nil {
		return "", err
	}
	if !slices.Contains(names, name) {
		return "", fmt.Errorf("lab %s has no log named %q; it has: %s", l.Name(), name, strings.Join(names, ", "))
	}
	if name == SupervisorLog {
		return l.store.Path("lab.log"), nil
	}
	return l.LogPath(name), nil
}

// LastLines returns the last n lines of b (all of b if n < 0); the last line
// may lack its newline (a line still being written).
func LastLines(b []byte, n int) []byte {
	if n < 0 {
		return b
	}
	if n == 0 {
		return nil
	}
	end := len(b)
	if end > 0 && b[end-1] == '\n' {
		end--
	}
	for i := end - 1; i >= 0; i-- {
		if b[i] == '\n' {
			n--
			if n == 0 {
				return b[i+1:]
			}
		}
	}
	return b
}
