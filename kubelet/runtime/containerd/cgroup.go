package containerd

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// cgroups knows the host's cgroup layout: v2 (one unified tree) or v1 (a
// tree per controller). runc makes a container's cgroup at the same relative
// path in either; its parents are left for RemoveCgroup.
type cgroups struct {
	root string
	v2   bool
}

func detectCgroups() cgroups {
	cg := cgroups{root: "/sys/fs/cgroup"}
	var st unix.Statfs_t
	if unix.Statfs(cg.root, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		cg.v2 = true
	}
	return cg
}

// dirs are the folders of one relative cgroup path, one per hierarchy.
func (cg cgroups) dirs(rel string) []string {
	if cg.v2 {
		return []string{filepath.Join(cg.root, rel)}
	}
	ents, err := os.ReadDir(cg.root)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		// Controllers mounted together appear as symlinks (cpu -> cpu,cpuacct).
		if e.IsDir() {
			out = append(out, filepath.Join(cg.root, e.Name(), rel))
		}
	}
	return out
}

// oomKilled reports whether the kernel's OOM killer killed a process of the
// cgroup; read before runc removes it.
func (cg cgroups) oomKilled(rel string) bool {
	if rel == "" {
		return false
	}
	file := filepath.Join(cg.root, "memory", rel, "memory.oom_control")
	if cg.v2 {
		file = filepath.Join(cg.root, rel, "memory.events")
	}
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		if k == "oom_kill" && v != "0" {
			return true
		}
	}
	return false
}

// RemoveCgroup removes a pod's cgroup tree (see RemoveCgroupTree).
func (c *Containerd) RemoveCgroup(rel string) error { return RemoveCgroupTree(rel) }

// RemoveCgroupTree removes the cgroup folder rel (a pod's, or a node's
// CgroupParent when its lab goes) and every folder under it, deepest first,
// in every hierarchy. Folders still holding processes make it fail; missing
// ones are fine.
func RemoveCgroupTree(rel string) error {
	if rel == "" || filepath.Clean(rel) == "/" {
		return fmt.Errorf("refusing to remove cgroup %q", rel)
	}
	var errs []error
	for _, dir := range detectCgroups().dirs(rel) {
		errs = append(errs, removeTree(dir))
	}
	return errors.Join(errs...)
}

func removeTree(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() {
			if err := removeTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := unix.Rmdir(dir); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	return nil
}
