package podinputs

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"k8s.io/apimachinery/pkg/types"

	"github.com/kinns/kinns/kubelet/runtime"
)

// TerminationLogPath is the host file behind a run's terminationMessagePath:
// <PodDir>/containers/<container>/<restartCount>.termination-log (upstream:
// /var/lib/kubelet/pods/<uid>/containers/<container>/<id>).
func (in *Inputs) TerminationLogPath(uid types.UID, container string, attempt int) string {
	return filepath.Join(in.PodDir(uid), "containers", container, strconv.Itoa(attempt)+".termination-log")
}

// terminationLogMount makes a run's termination log, empty, and mounts it
// read-write at path. It is world-writable, as upstream makes it, so that a
// container running as any user can leave its message there.
func (in *Inputs) terminationLogMount(uid types.UID, container string, attempt int, path string) (runtime.Mount, error) {
	host := in.TerminationLogPath(uid, container, attempt)
	if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
		return runtime.Mount{}, fmt.Errorf("make termination log folder: %w", err)
	}
	if err := os.WriteFile(host, nil, 0o666); err != nil {
		return runtime.Mount{}, fmt.Errorf("make termination log: %w", err)
	}
	if err := os.Chmod(host, 0o666); err != nil { // past the umask
		return runtime.Mount{}, fmt.Errorf("make termination log: %w", err)
	}
	return runtime.Mount{HostPath: host, ContainerPath: path}, nil
}
