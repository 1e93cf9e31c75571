package podinputs

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	volumeutil "k8s.io/kubernetes/pkg/volume/util"

	"github.com/kinns/kinns/kubelet/internal/tokens"
	"github.com/kinns/kinns/kubelet/runtime"
)

// volumeMounts prepares the volumes a container mounts and returns the bind
// mounts. Supported: emptyDir (a folder of the pod), hostPath, configMap,
// secret, downwardAPI and projected (files written from the API when a
// container starts, and again by RefreshVolumes and RefreshTokens while it
// runs), and image volumes (imgs: their images, by volume name, already
// pulled), always read-only. Mounts of other volume kinds are left out,
// with a log line.
func (in *Inputs) volumeMounts(ctx context.Context, pod *v1.Pod, c *v1.Container, imgs map[string]runtime.Image) ([]runtime.Mount, error) {
	var out []runtime.Mount
	for _, vm := range c.VolumeMounts {
		vol := findVolume(pod, vm.Name)
		if vol == nil {
			return nil, fmt.Errorf("volume %q is not in the pod", vm.Name)
		}
		if err := checkSubPath(vm.SubPath); err != nil {
			return nil, err
		}
		dir, err := in.prepareVolume(ctx, pod, vol, imgs)
		var me *MountError
		if errors.As(err, &me) {
			return nil, err
		}
		if err != nil {
			return nil, fmt.Errorf("volume %q: %w", vm.Name, err)
		}
		if dir == "" {
			in.log.Debug("volume kind not supported, not mounted", "pod", pod.Namespace+"/"+pod.Name, "volume", vm.Name)
			continue
		}
		host := filepath.Join(dir, vm.SubPath)
		if vm.SubPath != "" && vol.Image != nil {
			if host, err = imageSubPath(dir, vm.SubPath); err != nil {
				return nil, fmt.Errorf("volume %q: %w", vm.Name, err)
			}
		}
		if vm.SubPath != "" && holdsData(vol) {
			// As upstream, a missing subPath of a folder volume is made.
			if err := os.MkdirAll(host, 0o755); err != nil {
				return nil, fmt.Errorf("volume %q: subPath %q: %w", vm.Name, vm.SubPath, err)
			}
		}
		ro := vm.ReadOnly || (vol.PersistentVolumeClaim != nil && vol.PersistentVolumeClaim.ReadOnly) || vol.Image != nil
		out = append(out, runtime.Mount{HostPath: host, ContainerPath: vm.MountPath, ReadOnly: ro})
	}
	return out, nil
}

// prepareVolume returns the host folder (or file) of a volume, made ready;
// "" for a kind that is not supported.
func (in *Inputs) prepareVolume(ctx context.Context, pod *v1.Pod, vol *v1.Volume, imgs map[string]runtime.Image) (string, error) {
	base := filepath.Join(in.PodDir(pod.UID), "volumes")
	owned := ownedBy(pod)
	switch {
	case vol.EmptyDir != nil && vol.EmptyDir.Medium == v1.StorageMediumMemory:
		var size int64
		if vol.EmptyDir.SizeLimit != nil {
			size = vol.EmptyDir.SizeLimit.Value()
		}
		return memoryDir(pod, filepath.Join(base, "empty-dir", vol.Name), size)
	case vol.EmptyDir != nil:
		return emptyDir(pod, filepath.Join(base, "empty-dir", vol.Name))
	case vol.HostPath != nil:
		return vol.HostPath.Path, checkHostPath(vol.Name, vol.HostPath)
	case vol.Image != nil:
		return in.imageVolume(ctx, vol.Name, imageVolumeDir(in.PodDir(pod.UID), vol.Name), imgs)
	case vol.PersistentVolumeClaim != nil:
		return in.claimVolume(ctx, pod, vol, vol.PersistentVolumeClaim.ClaimName)
	case vol.ConfigMap != nil, vol.Secret != nil, vol.DownwardAPI != nil, vol.Projected != nil:
		fs, err := in.volumeFiles(ctx, pod, vol)
		var me *MountError
		if err != nil && !errors.As(err, &me) {
			// As upstream's volume manager: the pod waits in
			// ContainerCreating (FailedMount) for a missing ConfigMap,
			// Secret or ClusterTrustBundle, and is retried soon.
			err = setUpFailed(vol.Name, err)
		}
		if err != nil {
			return "", err
		}
		return owned(writeFiles(writtenVolumeDir(base, vol), fs))
	}
	return "", nil
}

// holdsData: the volume is a folder of data, in which a missing subPath is
// made (not a volume of files the kubelet writes).
func holdsData(vol *v1.Volume) bool {
	return vol.EmptyDir != nil || vol.HostPath != nil || vol.PersistentVolumeClaim != nil
}

// ownedBy gives a volume the kubelet wrote, once written, to the pod's
// fsGroup, read-only.
func ownedBy(pod *v1.Pod) func(dir string, err error) (string, error) {
	return func(dir string, err error) (string, error) {
		if err != nil {
			return "", err
		}
		return dir, setVolumeOwnership(pod, dir, true)
	}
}

// volumeFiles are the files of a volume the kubelet writes, read from the
// API now, with their modes (defaultMode, items' modes).
func (in *Inputs) volumeFiles(ctx context.Context, pod *v1.Pod, vol *v1.Volume) (files, error) {
	src := apiEnvSource{in}
	switch {
	case vol.ConfigMap != nil:
		s := vol.ConfigMap
		data, err := src.configMap(ctx, pod.Namespace, s.Name)
		data, err = sourceData(data, err, s.Optional, "configmap "+s.Name)
		if err != nil {
			return nil, err
		}
		return keyFiles(data, s.Items, s.DefaultMode, isOptional(s.Optional), "configmap "+s.Name)
	case vol.Secret != nil:
		s := vol.Secret
		data, err := src.secret(ctx, pod.Namespace, s.SecretName)
		data, err = sourceData(data, err, s.Optional, "secret "+s.SecretName)
		if err != nil {
			return nil, err
		}
		return keyFiles(data, s.Items, s.DefaultMode, isOptional(s.Optional), "secret "+s.SecretName)
	case vol.DownwardAPI != nil:
		return downwardFiles(pod, vol.DownwardAPI.Items, vol.DownwardAPI.DefaultMode)
	case vol.Projected != nil:
		return in.projectedFiles(ctx, pod, vol.Name, vol.Projected)
	}
	return nil, fmt.Errorf("volume %q is not one the kubelet writes", vol.Name)
}

// writtenVolumeDir is the folder of a volume the kubelet writes.
func writtenVolumeDir(base string, vol *v1.Volume) string {
	kind := "projected"
	switch {
	case vol.ConfigMap != nil:
		kind = "configmap"
	case vol.Secret != nil:
		kind = "secret"
	case vol.DownwardAPI != nil:
		kind = "downward-api"
	}
	return filepath.Join(base, kind, vol.Name)
}

// isWritten: the kubelet writes this volume's files from the API.
func isWritten(vol *v1.Volume) bool {
	return vol.ConfigMap != nil || vol.Secret != nil || vol.DownwardAPI != nil || vol.Projected != nil
}

// projectedFiles gathers the files of a projected volume from its sources,
// ClusterTrustBundles' certificates, pod certificates and the service account
// token among them (the API server's ServiceAccount
// admission adds such a volume to every pod that mounts its token). Every
// source's files get the volume's defaultMode unless an item says otherwise.
func (in *Inputs) projectedFiles(ctx context.Context, pod *v1.Pod, volume string, p *v1.ProjectedVolumeSource) (files, error) {
	src := apiEnvSource{in}
	out := files{}
	for i, s := range p.Sources {
		var more files
		var err error
		switch {
		case s.ServiceAccountToken != nil:
			var tok string
			tok, err = in.serviceAccountToken(ctx, pod, s.ServiceAccountToken)
			more = files{}
			more.add(s.ServiceAccountToken.Path, tok, tokenMode(pod, p.DefaultMode))
		case s.ConfigMap != nil:
			var data map[string]string
			data, err = src.configMap(ctx, pod.Namespace, s.ConfigMap.Name)
			data, err = sourceData(data, err, s.ConfigMap.Optional, "configmap "+s.ConfigMap.Name)
			if err == nil {
				more, err = keyFiles(data, s.ConfigMap.Items, p.DefaultMode, isOptional(s.ConfigMap.Optional), "configmap "+s.ConfigMap.Name)
			}
		case s.Secret != nil:
			var data map[string]string
			data, err = src.secret(ctx, pod.Namespace, s.Secret.Name)
			data, err = sourceData(data, err, s.Secret.Optional, "secret "+s.Secret.Name)
			if err == nil {
				more, err = keyFiles(data, s.Secret.Items, p.DefaultMode, isOptional(s.Secret.Optional), "secret "+s.Secret.Name)
			}
		case s.DownwardAPI != nil:
			more, err = downwardFiles(pod, s.DownwardAPI.Items, p.DefaultMode)
		case s.PodCertificate != nil:
			more, err = in.podCertificateFiles(ctx, pod, volume, i, s.PodCertificate, p.DefaultMode)
		case s.ClusterTrustBundle != nil:
			var pemData []byte
			pemData, err = trustAnchors(ctx, apiTrustBundles{in}, s.ClusterTrustBundle)
			more = files{}
			more.add(s.ClusterTrustBundle.Path, string(pemData), fileMode(nil, p.DefaultMode))
		default:
			in.log.Debug("projected volume source not supported, left out", "pod", pod.Namespace+"/"+pod.Name)
		}
		if err != nil {
			return nil, err
		}
		out.merge(more)
	}
	return out, nil
}

// serviceAccountToken is a token of the pod's service account, bound to
// the pod, from the token manager: the one kept for this pod and
// projection, or a new one from the TokenRequest API when it is due.
func (in *Inputs) serviceAccountToken(ctx context.Context, pod *v1.Pod, s *v1.ServiceAccountTokenProjection) (string, error) {
	return in.tokens.Get(ctx, tokenRequest(pod, s))
}

func tokenRequest(pod *v1.Pod, s *v1.ServiceAccountTokenProjection) tokens.Request {
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	r := tokens.Request{Pod: pod, ServiceAccount: sa, Audience: s.Audience}
	if s.ExpirationSeconds != nil {
		r.ExpirationSeconds = *s.ExpirationSeconds
	}
	return r
}

// RefreshTokens rewrites, in place, the projected volumes of a running pod
// whose service account tokens are due (older than 80 % of their lifetime
// or than the profile's TokenMaxAge), as the upstream kubelet's volume
// manager does on each pod sync: the volume's files are swapped at once
// (AtomicWriter's ..data link), so a container never reads half a token.
// Volumes not set up yet (no container started) are left to the start.
func (in *Inputs) RefreshTokens(ctx context.Context, pod *v1.Pod) error {
	var errs []error
	for i := range pod.Spec.Volumes {
		vol := &pod.Spec.Volumes[i]
		if vol.Projected == nil || !in.tokensDue(pod, vol.Projected) {
			continue
		}
		if err := in.rewrite(ctx, pod, vol); err != nil {
			errs = append(errs, err)
			continue
		}
		in.log.Debug("service account token refreshed", "pod", pod.Namespace+"/"+pod.Name, "volume", vol.Name)
	}
	return errors.Join(errs...)
}

// RefreshVolumes rewrites the volumes the kubelet writes (configMap,
// secret, downwardAPI, projected) of a running pod from what the API holds
// now, as upstream's volume manager remounts them on its periodic pod sync:
// a changed ConfigMap or Secret, or a label or annotation of the pod, shows
// in the mounted files (each volume swapped at once through the ..data
// link; unchanged files are not rewritten). A source that cannot be read
// leaves the volume as it was; the error says which. Volumes not set up yet
// (no container started) are left to the start.
func (in *Inputs) RefreshVolumes(ctx context.Context, pod *v1.Pod) error {
	var errs []error
	for i := range pod.Spec.Volumes {
		if vol := &pod.Spec.Volumes[i]; isWritten(vol) {
			errs = append(errs, in.rewrite(ctx, pod, vol))
		}
	}
	return errors.Join(errs...)
}

// rewrite writes a kubelet-written volume again, with its fsGroup
// ownership, if it is set up.
func (in *Inputs) rewrite(ctx context.Context, pod *v1.Pod, vol *v1.Volume) error {
	dir := writtenVolumeDir(filepath.Join(in.PodDir(pod.UID), "volumes"), vol)
	if _, err := os.Stat(dir); err != nil {
		return nil
	}
	fs, err := in.volumeFiles(ctx, pod, vol)
	if err == nil {
		_, err = ownedBy(pod)(writeFiles(dir, fs))
	}
	if err != nil {
		return fmt.Errorf("refresh volume %q: %w", vol.Name, err)
	}
	return nil
}

// tokensDue: one of the projection's tokens is due.
func (in *Inputs) tokensDue(pod *v1.Pod, p *v1.ProjectedVolumeSource) bool {
	for _, s := range p.Sources {
		if s.ServiceAccountToken != nil && in.tokens.Due(tokenRequest(pod, s.ServiceAccountToken)) {
			return true
		}
	}
	return false
}

// ForgetPod drops what is kept for a pod that is gone (its tokens).
func (in *Inputs) ForgetPod(uid types.UID) { in.tokens.Forget(uid) }

// downwardFiles are the files of downward API items: pod fields and
// container resources.
func downwardFiles(pod *v1.Pod, items []v1.DownwardAPIVolumeFile, def *int32) (files, error) {
	out := files{}
	for _, it := range items {
		var v string
		var err error
		switch {
		case it.FieldRef != nil && it.FieldRef.FieldPath == "metadata.labels":
			v = formatMap(pod.Labels)
		case it.FieldRef != nil && it.FieldRef.FieldPath == "metadata.annotations":
			v = formatMap(pod.Annotations)
		case it.FieldRef != nil:
			v, err = podField(pod, it.FieldRef.FieldPath, "", "")
		case it.ResourceFieldRef != nil && len(pod.Spec.Containers) > 0:
			v, err = resourceField(pod, &pod.Spec.Containers[0], it.ResourceFieldRef)
		}
		if err != nil {
			return nil, fmt.Errorf("downward API file %s: %w", it.Path, err)
		}
		out.add(it.Path, v, fileMode(it.Mode, def))
	}
	return out, nil
}

// formatMap writes key="value" lines, sorted, as the downward API does.
func formatMap(m map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(&b, "%s=%q\n", k, m[k])
	}
	return b.String()
}

// sourceData is what reading the ConfigMap or Secret called what gave: an
// optional one that cannot be read is empty; otherwise the error names it.
func sourceData(data map[string]string, err error, optional *bool, what string) (map[string]string, error) {
	if err == nil {
		return data, nil
	}
	if optional != nil && *optional {
		return nil, nil
	}
	return nil, fmt.Errorf("%s: %w", what, err)
}

// writeFiles makes dir hold exactly fs (relative path -> content and mode), all
// replaced at once through upstream's AtomicWriter: the files live in a
// timestamped folder that the link ..data points to, the visible names are
// links through ..data, and a new set is a new folder and one rename of
// ..data. Unchanged content is not rewritten. It returns dir.
func writeFiles(dir string, fs files) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	w, err := volumeutil.NewAtomicWriter(dir, "volume "+dir)
	if err != nil {
		return "", err
	}
	payload := make(map[string]volumeutil.FileProjection, len(fs))
	for name, fp := range fs {
		payload[strings.TrimPrefix(filepath.Clean("/"+name), "/")] = fp
	}
	if err := w.Write(payload, nil); err != nil {
		return "", fmt.Errorf("write volume %s: %w", dir, err)
	}
	return dir, nil
}

func findVolume(pod *v1.Pod, name string) *v1.Volume {
	for i := range pod.Spec.Volumes {
		if pod.Spec.Volumes[i].Name == name {
			return &pod.Spec.Volumes[i]
		}
	}
	return nil
}
