package podinputs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	v1 "k8s.io/api/core/v1"
)

// Modes a volume's files get under fsGroup, as the kubelet gives them:
// group read and write (read only for volumes the kubelet writes: configMap,
// secret, downwardAPI, projected), and on folders group search and setgid,
// so that new files inherit the group.
const (
	rwMask   = os.FileMode(0o660)
	roMask   = os.FileMode(0o440)
	execMask = os.FileMode(0o110)
)

// setVolumeOwnership gives every file under dir to the pod's fsGroup, if it
// has one. written is a volume the kubelet writes (configMap, secret,
// downwardAPI, projected): group read only, and always walked, as upstream
// does (each write makes new files). For other volumes, with
// fsGroupChangePolicy OnRootMismatch, a dir whose root already has the
// group and modes is left as it is.
func setVolumeOwnership(pod *v1.Pod, dir string, written bool) error {
	psc := pod.Spec.SecurityContext
	if psc == nil || psc.FSGroup == nil {
		return nil
	}
	gid := int(*psc.FSGroup)
	mask := rwMask
	if written {
		mask = roMask
	}
	if p := psc.FSGroupChangePolicy; !written && p != nil && *p == v1.FSGroupChangeOnRootMismatch && rootMatches(dir, gid, mask) {
		return nil
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return changeOwnership(path, d, gid, mask)
	})
	if err != nil {
		return fmt.Errorf("set fsGroup %d on %s: %w", gid, dir, err)
	}
	return nil
}

func changeOwnership(path string, d fs.DirEntry, gid int, mask os.FileMode) error {
	if err := os.Lchown(path, -1, gid); err != nil {
		return err
	}
	if d.Type()&fs.ModeSymlink != 0 {
		return nil
	}
	info, err := d.Info()
	if err != nil {
		return err
	}
	if d.IsDir() {
		mask |= os.ModeSetgid | execMask
	}
	return os.Chmod(path, info.Mode()|mask)
}

// rootMatches: dir is a folder of group gid with the group bits of mask,
// search and setgid.
func rootMatches(dir string, gid int, mask os.FileMode) bool {
	info, err := os.Stat(dir)
	if err != nil || !info.IsDir() {
		return false
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	want := mask | execMask
	return ok && int(st.Gid) == gid && info.Mode().Perm()&want == want && info.Mode()&os.ModeSetgid != 0
}

// emptyDir makes an emptyDir's folder the first time a container of the pod
// mounts it: mode 0777, as the kubelet makes it, then given to fsGroup.
// Later mounts find it as the containers left it.
func emptyDir(pod *v1.Pod, dir string) (string, error) {
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		return "", err
	}
	return dir, setVolumeOwnership(pod, dir, false)
}
