package podinputs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestHostPathTypes(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o644)
	for _, tc := range []struct {
		path string
		typ  v1.HostPathType
		want string // "" for success
	}{
		{filepath.Join(dir, "new"), v1.HostPathDirectoryOrCreate, ""},
		{filepath.Join(dir, "newfile"), v1.HostPathFileOrCreate, ""},
		{dir, v1.HostPathDirectory, ""},
		{file, v1.HostPathFile, ""},
		{file, v1.HostPathDirectory, "hostPath type check failed: " + file + " is not a directory, it's a File"},
		{filepath.Join(dir, "missing"), v1.HostPathFile, "hostPath type check failed, " + filepath.Join(dir, "missing") +
			` is not a file, unable to determine its type: path "` + filepath.Join(dir, "missing") + `" does not exist`},
		{dir, v1.HostPathSocket, "hostPath type check failed: " + dir + " is not a socket file, it's a Directory"},
	} {
		err := checkPathType(tc.path, tc.typ)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s %s: got %q, want %q", tc.typ, tc.path, got, tc.want)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "new")); err != nil || !fi.IsDir() {
		t.Errorf("DirectoryOrCreate made no folder: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "newfile")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("FileOrCreate made no file: %v", err)
	}
}

func claimPod(claim string) *v1.Pod {
	return testPod("p", func(p *v1.Pod) {
		p.Spec.Volumes = []v1.Volume{{Name: "data", VolumeSource: v1.VolumeSource{
			PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}}
		p.Spec.Containers[0].VolumeMounts = []v1.VolumeMount{{Name: "data", MountPath: "/data", SubPath: "sub"}}
	})
}

func TestClaimVolumeWaitsForBinding(t *testing.T) {
	ctx := context.Background()
	claim := &v1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "default"},
		Status: v1.PersistentVolumeClaimStatus{Phase: v1.ClaimPending}}
	client := fake.NewClientset(claim)
	in := New(testConfig(t), client)
	pod := claimPod("data")
	_, err := in.volumeMounts(ctx, pod, &pod.Spec.Containers[0], nil)
	var me *MountError
	if !errors.As(err, &me) {
		t.Fatalf("err = %v, want a MountError", err)
	}
	want := "Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[], failed to process volumes=[data]: error processing PVC default/data: PVC is not bound"
	if me.Msg != want {
		t.Errorf("message %q, want %q", me.Msg, want)
	}

	// Bound to a hostPath PV: its folder is mounted, the subPath made in it.
	dir := t.TempDir()
	claim.Spec.VolumeName, claim.Status.Phase = "pv-1", v1.ClaimBound
	client.CoreV1().PersistentVolumeClaims("default").Update(ctx, claim, metav1.UpdateOptions{})
	client.CoreV1().PersistentVolumes().Create(ctx, &v1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-1"},
		Spec: v1.PersistentVolumeSpec{PersistentVolumeSource: v1.PersistentVolumeSource{HostPath: &v1.HostPathVolumeSource{Path: dir}}}},
		metav1.CreateOptions{})
	mounts, err := in.volumeMounts(ctx, pod, &pod.Spec.Containers[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) != 1 || mounts[0].HostPath != filepath.Join(dir, "sub") || mounts[0].ContainerPath != "/data" {
		t.Errorf("mounts %+v", mounts)
	}
	if _, err := os.Stat(filepath.Join(dir, "sub")); err != nil {
		t.Errorf("subPath not made: %v", err)
	}
}

func TestMissingClaimIsAMountError(t *testing.T) {
	in := New(testConfig(t), fake.NewClientset())
	pod := claimPod("gone")
	_, err := in.volumeMounts(context.Background(), pod, &pod.Spec.Containers[0], nil)
	var me *MountError
	if !errors.As(err, &me) || me.Volume != "data" {
		t.Errorf("err = %v, want a MountError for volume data", err)
	}
}
