package podinputs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	"github.com/kinns/kinns/kubelet/runtime"
)

// SetImageMounter gives the inputs the runtime that mounts image volumes;
// without one, a container that mounts an image volume cannot start. Call
// it before any pod is synced.
func (in *Inputs) SetImageMounter(m runtime.ImageMounter) { in.imageMounts = m }

// imageVolumeDir is the folder an image volume is mounted on:
// <pod>/volumes/image/<volume>, in the kubelet's state folder only.
func imageVolumeDir(podDir, volume string) string {
	return filepath.Join(podDir, "volumes", "image", volume)
}

// imageVolume mounts the image of volume (already pulled, in imgs) read-only
// on dir, once for every container of the pod that mounts it.
func (in *Inputs) imageVolume(ctx context.Context, volume, dir string, imgs map[string]runtime.Image) (string, error) {
	img, ok := imgs[volume]
	if !ok || img.Ref == "" {
		return "", fmt.Errorf("image volume %q: its image was not pulled", volume)
	}
	if in.imageMounts == nil {
		return "", errors.New("image volumes are not supported by this runtime")
	}
	if err := in.imageMounts.MountImage(ctx, img.Ref, dir); err != nil {
		// As upstream, where the runtime mounts it when it creates the
		// container: the container shows CreateContainerError.
		return "", &runtime.CreateError{Err: fmt.Errorf("mount image volume %q: %w", volume, err)}
	}
	return dir, nil
}

// imageSubPath is the real path of subPath in an image volume mounted on
// dir: as containerd's CRI plugin, it must exist inside the image (symbolic
// links resolved within it, never out of it) and be a folder. Errors are
// *runtime.CreateError, as the runtime's are upstream.
func imageSubPath(dir, subPath string) (string, error) {
	real, err := resolveImageSubPath(dir, subPath)
	if err != nil {
		return "", &runtime.CreateError{Err: err}
	}
	return real, nil
}

func resolveImageSubPath(dir, subPath string) (string, error) {
	f, err := os.OpenInRoot(dir, subPath)
	if err != nil {
		return "", fmt.Errorf("subPath %q in image: %w", subPath, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("subPath %q in image: %w", subPath, err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("subPath %q in image: only a directory can be mounted", subPath)
	}
	// The opened file's own path, so that the bind mount cannot follow a
	// link swapped in after the check.
	real, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	if err != nil {
		return "", fmt.Errorf("subPath %q in image: %w", subPath, err)
	}
	if real != dir && !strings.HasPrefix(real, dir+"/") {
		return "", fmt.Errorf("subPath %q in image: resolves out of the volume", subPath)
	}
	return real, nil
}

// unmountImageVolumes unmounts the pod's image volumes and removes their
// views and folders.
func (in *Inputs) unmountImageVolumes(ctx context.Context, uid types.UID) error {
	base := filepath.Dir(imageVolumeDir(in.PodDir(uid), "x"))
	entries, err := os.ReadDir(base)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if in.imageMounts == nil {
		return fmt.Errorf("image volumes in %s and no runtime to unmount them", base)
	}
	var errs []error
	for _, e := range entries {
		errs = append(errs, in.imageMounts.UnmountImage(ctx, filepath.Join(base, e.Name())))
	}
	return errors.Join(errs...)
}

// CleanOrphanImageViews removes the image volume views the runtime holds
// for pods whose folder is gone (a kubelet killed between removing a view's
// mount and its record, say). Views of pods that still have a folder are
// left to their pod's clean-up.
func (in *Inputs) CleanOrphanImageViews(ctx context.Context) error {
	if in.imageMounts == nil {
		return nil
	}
	targets, err := in.imageMounts.ImageViews(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range orphanViews(filepath.Join(in.cfg.StateDir, "pods"), targets, exists) {
		in.log.Info("removing orphan image volume view", "target", t)
		errs = append(errs, in.imageMounts.UnmountImage(ctx, t))
	}
	return errors.Join(errs...)
}

// orphanViews are the targets under podsDir (<podsDir>/<uid>/volumes/image/<v>)
// whose pod folder does not exist.
func orphanViews(podsDir string, targets []string, exists func(string) bool) []string {
	var out []string
	for _, t := range targets {
		rel, err := filepath.Rel(podsDir, t)
		parts := strings.Split(rel, string(filepath.Separator))
		if err != nil || len(parts) != 4 || parts[1] != "volumes" || parts[2] != "image" {
			continue
		}
		if !exists(filepath.Join(podsDir, parts[0])) {
			out = append(out, t)
		}
	}
	return out
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
