package harness

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// unmount detaches a mount the lab made; one that is not mounted is success.
func unmount(path string) error {
	err := unix.Unmount(path, unix.MNT_DETACH)
	if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return fmt.Errorf("unmount %s: %w", path, err)
}
