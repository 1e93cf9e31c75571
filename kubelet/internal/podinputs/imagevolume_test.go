package podinputs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kinns/kinns/kubelet/runtime"
)

// fakeMounter "mounts" an image by making its folder with a few entries:
// a folder, a file, and a link out of the image.
type fakeMounter struct {
	mounted   map[string]string // target -> image
	unmounted []string
}

func (f *fakeMounter) MountImage(_ context.Context, ref, target string) error {
	if f.mounted == nil {
		f.mounted = map[string]string{}
	}
	if _, done := f.mounted[target]; done {
		return nil
	}
	f.mounted[target] = ref
	if err := os.MkdirAll(filepath.Join(target, "etc"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(target, "data.json"), []byte("{}"), 0o644); err != nil {
		return err
	}
	if err := os.Symlink("/etc", filepath.Join(target, "out")); err != nil {
		return err
	}
	return os.Symlink("etc", filepath.Join(target, "in"))
}

func (f *fakeMounter) UnmountImage(_ context.Context, target string) error {
	f.unmounted = append(f.unmounted, target)
	delete(f.mounted, target)
	return os.RemoveAll(target)
}

func (f *fakeMounter) ImageViews(context.Context) ([]string, error) {
	var out []string
	for t := range f.mounted {
		out = append(out, t)
	}
	return out, nil
}

func imageVolumePod(mounts ...v1.VolumeMount) *v1.Pod {
	return testPod("p", func(p *v1.Pod) {
		p.Spec.Volumes = []v1.Volume{{Name: "vol", VolumeSource: v1.VolumeSource{Image: &v1.ImageVolumeSource{
			Reference: "registry.k8s.io/e2e-test-images/kitten:1.8", PullPolicy: v1.PullAlways}}}}
		p.Spec.Containers[0].VolumeMounts = mounts
	})
}

var kitten = map[string]runtime.Image{"vol": {Ref: "registry.k8s.io/e2e-test-images/kitten:1.8"}}

func TestImageVolumeMountedReadOnly(t *testing.T) {
	in := New(testConfig(t), fake.NewClientset())
	fm := &fakeMounter{}
	in.SetImageMounter(fm)
	pod := imageVolumePod(v1.VolumeMount{Name: "vol", MountPath: "/volume"})
	mounts, err := in.volumeMounts(context.Background(), pod, &pod.Spec.Containers[0], kitten)
	if err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(in.PodDir(pod.UID), "volumes", "image", "vol")
	want := runtime.Mount{HostPath: target, ContainerPath: "/volume", ReadOnly: true}
	if len(mounts) != 1 || mounts[0] != want {
		t.Fatalf("mounts %+v, want %+v", mounts, want)
	}
	if fm.mounted[target] != kitten["vol"].Ref {
		t.Errorf("mounted %v", fm.mounted)
	}
	if err := in.UnmountPodVolumes(context.Background(), pod.UID); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fm.unmounted, []string{target}) {
		t.Errorf("unmounted %q", fm.unmounted)
	}
}

func TestImageVolumeNeedsItsImage(t *testing.T) {
	in := New(testConfig(t), fake.NewClientset())
	in.SetImageMounter(&fakeMounter{})
	pod := imageVolumePod(v1.VolumeMount{Name: "vol", MountPath: "/volume"})
	if _, err := in.volumeMounts(context.Background(), pod, &pod.Spec.Containers[0], nil); err == nil {
		t.Fatal("an image volume whose image was not pulled was mounted")
	}
}

func TestImageVolumeSubPath(t *testing.T) {
	in := New(testConfig(t), fake.NewClientset())
	in.SetImageMounter(&fakeMounter{})
	for sub, ok := range map[string]bool{"etc": true, "in": true, "data.json": false, "out": false, "missing": false, "../..": false} {
		pod := imageVolumePod(v1.VolumeMount{Name: "vol", MountPath: "/volume", SubPath: sub})
		mounts, err := in.volumeMounts(context.Background(), pod, &pod.Spec.Containers[0], kitten)
		var ce *runtime.CreateError
		if !ok {
			// "../.." is refused before the image is looked at, as upstream's
			// kubelet does (CreateContainerConfigError); the rest by the mount.
			if err == nil || (sub != "../.." && !errors.As(err, &ce)) {
				t.Errorf("subPath %q: mounted %+v, %v; want a CreateError", sub, mounts, err)
			}
			continue
		}
		want := filepath.Join(in.PodDir(pod.UID), "volumes", "image", "vol", "etc")
		if err != nil || len(mounts) != 1 || mounts[0].HostPath != want || !mounts[0].ReadOnly {
			t.Errorf("subPath %q: %+v %v, want %s read-only", sub, mounts, err, want)
		}
	}
}

func TestOrphanViews(t *testing.T) {
	pods := "/state/pods"
	live := map[string]bool{"/state/pods/a": true}
	got := orphanViews(pods, []string{
		"/state/pods/a/volumes/image/v", // its pod's clean-up removes it
		"/state/pods/b/volumes/image/v", // orphan
		"/elsewhere/pods/c/volumes/image/v",
		"/state/pods/d/volumes/empty-dir/v",
	}, func(p string) bool { return live[p] })
	if !slices.Equal(got, []string{"/state/pods/b/volumes/image/v"}) {
		t.Errorf("orphans %q", got)
	}
}

func TestCleanOrphanImageViews(t *testing.T) {
	in := New(testConfig(t), fake.NewClientset())
	fm := &fakeMounter{}
	in.SetImageMounter(fm)
	pod := imageVolumePod(v1.VolumeMount{Name: "vol", MountPath: "/volume"})
	if _, err := in.volumeMounts(context.Background(), pod, &pod.Spec.Containers[0], kitten); err != nil {
		t.Fatal(err)
	}
	if err := in.CleanOrphanImageViews(context.Background()); err != nil || len(fm.unmounted) != 0 {
		t.Fatalf("a live pod's view was cleaned: %q %v", fm.unmounted, err)
	}
	if err := os.RemoveAll(in.PodDir(pod.UID)); err != nil {
		t.Fatal(err)
	}
	if err := in.CleanOrphanImageViews(context.Background()); err != nil || len(fm.unmounted) != 1 {
		t.Fatalf("orphan view left: %q %v", fm.unmounted, err)
	}
}
