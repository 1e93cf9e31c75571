package podinputs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

// modeOf is the mode a container sees for a file of a mounted volume (its
// link followed into ..data).
func modeOf(t *testing.T, dir, name string) os.FileMode {
	t.Helper()
	info, err := os.Stat(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode()
}

// defaultMode and per-item modes, as the conformance tests of configMap,
// secret, downwardAPI and projected volumes check them.
func TestVolumeFileModes(t *testing.T) {
	client := fake.NewClientset(
		&v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "cm"}, Data: map[string]string{"a": "1", "b": "2"}},
		&v1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "s"}, Data: map[string][]byte{"x": []byte("y")}},
	)
	in := New(testConfig(t), client)
	cmRef := v1.LocalObjectReference{Name: "cm"}
	pod := testPod("p", func(p *v1.Pod) {
		p.Spec.Volumes = []v1.Volume{
			{Name: "cm", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: cmRef, DefaultMode: ptr.To[int32](0o400)}}},
			{Name: "items", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: cmRef,
				Items: []v1.KeyToPath{{Key: "a", Path: "path/to/a", Mode: ptr.To[int32](0o400)}, {Key: "b", Path: "b"}}}}},
			{Name: "sec", VolumeSource: v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "s", DefaultMode: ptr.To[int32](0o440)}}},
			{Name: "down", VolumeSource: v1.VolumeSource{DownwardAPI: &v1.DownwardAPIVolumeSource{DefaultMode: ptr.To[int32](0o400),
				Items: []v1.DownwardAPIVolumeFile{{Path: "name", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}},
					{Path: "ns", Mode: ptr.To[int32](0o600), FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}}},
			{Name: "proj", VolumeSource: v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{DefaultMode: ptr.To[int32](0o440), Sources: []v1.VolumeProjection{
				{ConfigMap: &v1.ConfigMapProjection{LocalObjectReference: cmRef, Items: []v1.KeyToPath{{Key: "a", Path: "a", Mode: ptr.To[int32](0o600)}}}},
				{Secret: &v1.SecretProjection{LocalObjectReference: v1.LocalObjectReference{Name: "s"}}},
			}}}},
		}
		for _, v := range p.Spec.Volumes {
			p.Spec.Containers[0].VolumeMounts = append(p.Spec.Containers[0].VolumeMounts, v1.VolumeMount{Name: v.Name, MountPath: "/" + v.Name})
		}
	})
	mounts, err := in.volumeMounts(context.Background(), pod, &pod.Spec.Containers[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		mount int
		file  string
		want  os.FileMode
	}{
		{0, "a", 0o400}, {0, "b", 0o400},
		{1, "path/to/a", 0o400}, {1, "b", 0o644},
		{2, "x", 0o440},
		{3, "name", 0o400}, {3, "ns", 0o600},
		{4, "a", 0o600}, {4, "x", 0o440},
	} {
		if got := modeOf(t, mounts[c.mount].HostPath, c.file); got != c.want {
			t.Errorf("%s/%s: %v, want %v", pod.Spec.Volumes[c.mount].Name, c.file, got, c.want)
		}
	}
}

// Under an fsGroup a file gains group read, folders setgid; a projected
// token stays private to the owner and the group (0600 -> 0640).
func TestVolumeFileModesUnderFSGroup(t *testing.T) {
	gid := int64(os.Getgid())
	client := fake.NewClientset(&v1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "s"}, Data: map[string][]byte{"x": []byte("y")}})
	in := New(testConfig(t), client)
	pod := testPod("p", func(p *v1.Pod) {
		p.Spec.SecurityContext = &v1.PodSecurityContext{FSGroup: &gid, FSGroupChangePolicy: ptr.To(v1.FSGroupChangeOnRootMismatch)}
		p.Spec.Volumes = []v1.Volume{{Name: "sec", VolumeSource: v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "s", DefaultMode: ptr.To[int32](0o400)}}}}
		p.Spec.Containers[0].VolumeMounts = []v1.VolumeMount{{Name: "sec", MountPath: "/s"}}
	})
	mounts, err := in.volumeMounts(context.Background(), pod, &pod.Spec.Containers[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := mounts[0].HostPath
	if got := modeOf(t, dir, "x"); got != 0o440 {
		t.Errorf("x: %v, want -r--r----- (defaultMode 0400 and fsGroup's group read)", got)
	}
	if got := modeOf(t, dir, "..data"); got != os.ModeDir|os.ModeSetgid|0o755 {
		t.Errorf("..data: %v, want a setgid folder", got)
	}
	// A refreshed volume is new files: they get the group too, whatever
	// the change policy says (upstream applies none to these volumes).
	sec, _ := client.CoreV1().Secrets("default").Get(context.Background(), "s", metav1.GetOptions{})
	sec.Data["x"] = []byte("z")
	client.CoreV1().Secrets("default").Update(context.Background(), sec, metav1.UpdateOptions{})
	if err := in.RefreshVolumes(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "x")); string(b) != "z" {
		t.Errorf("x after the update: %q", b)
	}
	if got := modeOf(t, dir, "x"); got != 0o440 {
		t.Errorf("x after the refresh: %v, want 0440", got)
	}
	if got := tokenMode(pod, ptr.To[int32](0o644)); got != 0o600 {
		t.Errorf("token mode under fsGroup %o, want 0600", got)
	}
}

// An item naming a key the source lacks fails the volume unless the source
// is optional, as upstream.
func TestVolumeItemWithAMissingKey(t *testing.T) {
	items := []v1.KeyToPath{{Key: "gone", Path: "gone"}, {Key: "a", Path: "a"}}
	if _, err := keyFiles(map[string]string{"a": "1"}, items, nil, false, "configmap cm"); err == nil || !strings.Contains(err.Error(), "non-existent key: gone") {
		t.Errorf("err %v, want one naming the missing key", err)
	}
	fs, err := keyFiles(map[string]string{"a": "1"}, items, nil, true, "configmap cm")
	if err != nil || len(fs) != 1 || fs["a"].Mode != 0o644 {
		t.Errorf("optional: %v %v, want a alone with mode 0644", fs, err)
	}
}

// RefreshVolumes shows a ConfigMap's new content, the pod's new labels and
// an optional Secret made later, and leaves volumes not set up alone.
func TestRefreshVolumes(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(&v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "cm"}, Data: map[string]string{"k": "old"}})
	in := New(testConfig(t), client)
	pod := testPod("p", func(p *v1.Pod) {
		p.Labels = map[string]string{"v": "1"}
		p.Spec.Volumes = []v1.Volume{
			{Name: "cm", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "cm"}}}},
			{Name: "labels", VolumeSource: v1.VolumeSource{DownwardAPI: &v1.DownwardAPIVolumeSource{
				Items: []v1.DownwardAPIVolumeFile{{Path: "labels", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.labels"}}}}}},
			{Name: "later", VolumeSource: v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "later", Optional: ptr.To(true)}}},
		}
		for _, v := range p.Spec.Volumes {
			p.Spec.Containers[0].VolumeMounts = append(p.Spec.Containers[0].VolumeMounts, v1.VolumeMount{Name: v.Name, MountPath: "/" + v.Name})
		}
	})
	if err := in.RefreshVolumes(ctx, pod); err != nil {
		t.Fatalf("before any start: %v", err)
	}
	if _, err := os.Stat(in.PodDir(pod.UID)); err == nil {
		t.Fatal("a refresh before any start wrote the volumes")
	}
	mounts, err := in.volumeMounts(ctx, pod, &pod.Spec.Containers[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	client.CoreV1().ConfigMaps("default").Update(ctx, &v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "cm"}, Data: map[string]string{"k": "new"}}, metav1.UpdateOptions{})
	client.CoreV1().Secrets("default").Create(ctx, &v1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "later"}, Data: map[string][]byte{"s": []byte("here")}}, metav1.CreateOptions{})
	pod.Labels["v"] = "2"
	if err := in.RefreshVolumes(ctx, pod); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		filepath.Join(mounts[0].HostPath, "k"):      "new",
		filepath.Join(mounts[1].HostPath, "labels"): "v=\"2\"\n",
		filepath.Join(mounts[2].HostPath, "s"):      "here",
	} {
		if b, err := os.ReadFile(file); err != nil || string(b) != want {
			t.Errorf("%s: %q %v, want %q", file, b, err, want)
		}
	}
	client.CoreV1().ConfigMaps("default").Delete(ctx, "cm", metav1.DeleteOptions{})
	if err := in.RefreshVolumes(ctx, pod); err == nil || !strings.Contains(err.Error(), `volume "cm"`) {
		t.Errorf("a deleted ConfigMap: %v, want an error naming the volume", err)
	}
	if b, _ := os.ReadFile(filepath.Join(mounts[0].HostPath, "k")); string(b) != "new" {
		t.Errorf("k %q after the ConfigMap went, want the last content kept", b)
	}
}
