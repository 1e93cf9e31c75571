package kubelet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	v1 "k8s.io/api/core/v1"

	"github.com/kinns/kinns/kubelet/runtime"
)

// volumeMounts prepares the volumes a container mounts and returns the bind
// mounts. Supported: emptyDir (a folder of the pod), hostPath, configMap
// and secret (files written from the API; not refreshed). Mounts of other
// volume kinds are left out, with a log line.
func (k *Kubelet) volumeMounts(ctx context.Context, pod *v1.Pod, c *v1.Container) ([]runtime.Mount, error) {
	var out []runtime.Mount
	for _, vm := range c.VolumeMounts {
		vol := findVolume(pod, vm.Name)
		if vol == nil {
			return nil, fmt.Errorf("volume %q is not in the pod", vm.Name)
		}
		dir, err := k.prepareVolume(ctx, pod, vol)
		if err != nil {
			return nil, fmt.Errorf("volume %q: %w", vm.Name, err)
		}
		if dir == "" {
			k.log.Debug("volume kind not supported, not mounted", "pod", pod.Namespace+"/"+pod.Name, "volume", vm.Name)
			continue
		}
		out = append(out, runtime.Mount{HostPath: filepath.Join(dir, vm.SubPath), ContainerPath: vm.MountPath, ReadOnly: vm.ReadOnly})
	}
	return out, nil
}

// prepareVolume returns the host folder (or file) of a volume, made ready;
// "" for a kind that is not supported.
func (k *Kubelet) prepareVolume(ctx context.Context, pod *v1.Pod, vol *v1.Volume) (string, error) {
	base := filepath.Join(k.podDir(pod.UID), "volumes")
	src := apiEnvSource{k}
	switch {
	case vol.EmptyDir != nil:
		dir := filepath.Join(base, "empty-dir", vol.Name)
		return dir, os.MkdirAll(dir, 0o777)
	case vol.HostPath != nil:
		t := vol.HostPath.Type
		if t != nil && *t == v1.HostPathDirectoryOrCreate {
			return vol.HostPath.Path, os.MkdirAll(vol.HostPath.Path, 0o755)
		}
		return vol.HostPath.Path, nil
	case vol.ConfigMap != nil:
		data, err := src.configMap(ctx, pod.Namespace, vol.ConfigMap.Name)
		if err != nil && vol.ConfigMap.Optional != nil && *vol.ConfigMap.Optional {
			data, err = nil, nil
		}
		if err != nil {
			return "", err
		}
		return writeKeys(filepath.Join(base, "configmap", vol.Name), data, vol.ConfigMap.Items)
	case vol.Secret != nil:
		data, err := src.secret(ctx, pod.Namespace, vol.Secret.SecretName)
		if err != nil && vol.Secret.Optional != nil && *vol.Secret.Optional {
			data, err = nil, nil
		}
		if err != nil {
			return "", err
		}
		return writeKeys(filepath.Join(base, "secret", vol.Name), data, vol.Secret.Items)
	}
	return "", nil
}

// writeKeys writes one file per key (or per item, at the item's path).
func writeKeys(dir string, data map[string]string, items []v1.KeyToPath) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	files := map[string]string{}
	if len(items) == 0 {
		for k, v := range data {
			files[k] = v
		}
	}
	for _, it := range items {
		if v, ok := data[it.Key]; ok {
			files[it.Path] = v
		}
	}
	for name, v := range files {
		p := filepath.Join(dir, filepath.Clean("/"+name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := writeFileAtomic(p, []byte(v)); err != nil {
			return "", err
		}
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
