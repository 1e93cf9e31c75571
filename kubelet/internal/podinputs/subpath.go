package podinputs

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/kubernetes/third_party/forked/golang/expansion"
)

// withSubPaths returns c with each mount's subPathExpr expanded against the
// container's environment into its subPath, as upstream's kubelet does: a
// variable that is unset or empty is an error (the container waits in
// CreateContainerConfigError, and a later start sees a changed annotation).
// c itself is not changed.
func withSubPaths(c *v1.Container, env []string) (*v1.Container, error) {
	if !slices.ContainsFunc(c.VolumeMounts, func(m v1.VolumeMount) bool { return m.SubPathExpr != "" }) {
		return c, nil
	}
	vals := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vals[k] = v
	}
	out := *c
	out.VolumeMounts = slices.Clone(c.VolumeMounts)
	for i, m := range out.VolumeMounts {
		if m.SubPathExpr == "" {
			continue
		}
		var missing []string
		sub := expansion.Expand(m.SubPathExpr, func(k string) string {
			if vals[k] == "" && !slices.Contains(missing, k) {
				missing = append(missing, k)
			}
			return vals[k]
		})
		if len(missing) > 0 {
			slices.Sort(missing)
			return nil, fmt.Errorf("volume %q: subPathExpr %q: missing value for %s", m.Name, m.SubPathExpr, strings.Join(missing, ", "))
		}
		out.VolumeMounts[i].SubPath, out.VolumeMounts[i].SubPathExpr = sub, ""
	}
	return &out, nil
}

// checkSubPath refuses what the API server cannot check of a subPath made
// from an expression: an absolute path, or one that climbs out with "..".
func checkSubPath(sub string) error {
	if filepath.IsAbs(sub) {
		return fmt.Errorf("error SubPath `%s` must not be an absolute path", sub)
	}
	if slices.Contains(strings.Split(filepath.ToSlash(sub), "/"), "..") {
		return fmt.Errorf("unable to provision SubPath `%s`: must not contain '..'", sub)
	}
	return nil
}
