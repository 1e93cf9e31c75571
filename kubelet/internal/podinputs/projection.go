package podinputs

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
	volumeutil "k8s.io/kubernetes/pkg/volume/util"
)

// files are the files of a volume the kubelet writes (configMap, secret,
// downwardAPI, projected): relative path -> content and mode.
type files map[string]volumeutil.FileProjection

// defaultFileMode is the API's default for a volume's defaultMode; a spec
// that skipped defaulting (a unit test, a static manifest) gets it too.
const defaultFileMode = int32(0o644)

// tokenModeUnderFSGroup is the mode of a projected service-account token in
// a pod with an fsGroup: owner-only, so that the fsGroup ownership step
// (group read) makes it 0640 and never world-readable, as upstream does.
const tokenModeUnderFSGroup = int32(0o600)

// fileMode is an item's mode, else the volume's defaultMode, else 0644.
func fileMode(item, def *int32) int32 {
	switch {
	case item != nil:
		return *item
	case def != nil:
		return *def
	}
	return defaultFileMode
}

// add puts one file in the set, with its mode.
func (f files) add(path, content string, mode int32) {
	f[path] = volumeutil.FileProjection{Data: []byte(content), Mode: mode}
}

// merge adds more's files (a later projected source wins a path).
func (f files) merge(more files) {
	for p, fp := range more {
		f[p] = fp
	}
}

// keyFiles turns a ConfigMap's or Secret's keys into files, as the upstream
// volume plugins do: every key with defaultMode, or only the items', each
// at its path with its own mode (else defaultMode). An item whose key the
// source lacks fails the volume, unless the source is optional (then the
// item is left out). what names the source in that error ("configmap",
// "secret").
func keyFiles(data map[string]string, items []v1.KeyToPath, def *int32, optional bool, what string) (files, error) {
	out := files{}
	if len(items) == 0 {
		for k, v := range data {
			out.add(k, v, fileMode(nil, def))
		}
		return out, nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return nil, fmt.Errorf("%s references non-existent key: %s", what, it.Key)
		}
		out.add(it.Path, v, fileMode(it.Mode, def))
	}
	return out, nil
}

// tokenMode is the mode of a projected service-account token: the volume's
// defaultMode, owner-only under an fsGroup.
func tokenMode(pod *v1.Pod, def *int32) int32 {
	if sc := pod.Spec.SecurityContext; sc != nil && sc.FSGroup != nil {
		return tokenModeUnderFSGroup
	}
	return fileMode(nil, def)
}

// isOptional reads an optional flag of a volume source.
func isOptional(b *bool) bool { return b != nil && *b }
