package harness

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// CgroupRoot is where /sys/fs/cgroup is; tests point it elsewhere.
var CgroupRoot = "/sys/fs/cgroup"

// LabCgroup is the cgroup parent of everything a lab's nodes run: pods go in
// /kinns/<lab>/<node>/pod<uid>.
func LabCgroup(lab string) string { return "/kinns/" + lab }

// removeCgroup removes the cgroup at rel (e.g. /kinns/demo) and every cgroup
// below it, in every hierarchy where it exists: cgroup v1 has one per
// controller, v2 a single one. A cgroup can only go once no process is in it;
// by then the lab's containers are dead.
func removeCgroup(rel string) error {
	var errs []error
	for _, base := range cgroupHierarchies() {
		dir := filepath.Join(base, rel)
		var dirs []string
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		if err != nil {
			continue
		}
		// Deepest first.
		sort.Slice(dirs, func(i, j int) bool { return strings.Count(dirs[i], "/") > strings.Count(dirs[j], "/") })
		for _, d := range dirs {
			if err := os.Remove(d); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove cgroup %s: %w", d, err))
			}
		}
	}
	return errors.Join(errs...)
}

// cgroupHierarchies lists the mounted hierarchies: each v1 controller folder,
// and the v2 root (or its "unified" mount on hybrid hosts).
func cgroupHierarchies() []string {
	if _, err := os.Stat(filepath.Join(CgroupRoot, "cgroup.controllers")); err == nil {
		return []string{CgroupRoot} // pure v2
	}
	ents, err := os.ReadDir(CgroupRoot)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() { // not the v1 aliases (cpu -> cpu,cpuacct), which are links
			out = append(out, filepath.Join(CgroupRoot, e.Name()))
		}
	}
	return out
}
