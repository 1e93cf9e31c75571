package podinputs

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/kinns/kinns/kubelet/runtime"
)

func TestContainerSecurity(t *testing.T) {
	for _, tc := range []struct {
		name      string
		pod       *v1.PodSecurityContext
		ctr       *v1.SecurityContext
		imageUser string
		want      runtime.Security
	}{
		{name: "nothing asked", want: runtime.Security{}},
		{name: "pod user and group", pod: &v1.PodSecurityContext{RunAsUser: ptr.To[int64](1000), RunAsGroup: ptr.To[int64](3000)},
			want: runtime.Security{User: "1000:3000"}},
		{name: "container wins", pod: &v1.PodSecurityContext{RunAsUser: ptr.To[int64](1000), RunAsGroup: ptr.To[int64](3000)},
			ctr: &v1.SecurityContext{RunAsUser: ptr.To[int64](2000)}, want: runtime.Security{User: "2000:3000"}},
		{name: "group alone keeps the image's user", ctr: &v1.SecurityContext{RunAsGroup: ptr.To[int64](5)}, imageUser: "app:staff",
			want: runtime.Security{User: "app:5"}},
		{name: "group alone, image as root", ctr: &v1.SecurityContext{RunAsGroup: ptr.To[int64](5)}, want: runtime.Security{User: "0:5"}},
		{name: "fsGroup before supplementalGroups, strict",
			pod:  &v1.PodSecurityContext{FSGroup: ptr.To[int64](2000), SupplementalGroups: []int64{4000, 5000}, SupplementalGroupsPolicy: ptr.To(v1.SupplementalGroupsPolicyStrict)},
			want: runtime.Security{SupplementalGroups: []int64{2000, 4000, 5000}, StrictGroups: true}},
		{name: "non-root image passes runAsNonRoot", pod: &v1.PodSecurityContext{RunAsNonRoot: ptr.To(true)}, imageUser: "1000:1000",
			want: runtime.Security{}},
		{name: "flags", ctr: &v1.SecurityContext{Privileged: ptr.To(true), ReadOnlyRootFilesystem: ptr.To(true), AllowPrivilegeEscalation: ptr.To(false),
			Capabilities: &v1.Capabilities{Add: []v1.Capability{"NET_ADMIN"}, Drop: []v1.Capability{"ALL"}}},
			want: runtime.Security{Privileged: true, ReadOnlyRootfs: true, NoNewPrivileges: true, CapAdd: []string{"NET_ADMIN"}, CapDrop: []string{"ALL"}}},
		{name: "escalation allowed", ctr: &v1.SecurityContext{AllowPrivilegeEscalation: ptr.To(true)}, want: runtime.Security{}},
		{name: "pod seccomp", pod: &v1.PodSecurityContext{SeccompProfile: &v1.SeccompProfile{Type: v1.SeccompProfileTypeRuntimeDefault}},
			want: runtime.Security{Seccomp: runtime.SeccompRuntimeDefault}},
		{name: "container seccomp wins", pod: &v1.PodSecurityContext{SeccompProfile: &v1.SeccompProfile{Type: v1.SeccompProfileTypeRuntimeDefault}},
			ctr: &v1.SecurityContext{SeccompProfile: &v1.SeccompProfile{Type: v1.SeccompProfileTypeUnconfined}}, want: runtime.Security{}},
		{name: "localhost seccomp", ctr: &v1.SecurityContext{SeccompProfile: &v1.SeccompProfile{Type: v1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr.To("p/audit.json")}},
			want: runtime.Security{Seccomp: runtime.SeccompLocalhost, SeccompProfile: "/seccomp/p/audit.json"}},
		{name: "sysctls by dotted names", pod: &v1.PodSecurityContext{Sysctls: []v1.Sysctl{
			{Name: "kernel/shm_rmid_forced", Value: "1"}, {Name: "net.ipv4.ip_local_port_range", Value: "1024 65000"}}},
			want: runtime.Security{Sysctls: map[string]string{"kernel.shm_rmid_forced": "1", "net.ipv4.ip_local_port_range": "1024 65000"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := testPod("p", func(p *v1.Pod) {
				p.Spec.SecurityContext = tc.pod
				p.Spec.Containers[0].SecurityContext = tc.ctr
			})
			got, err := containerSecurity(pod, &pod.Spec.Containers[0], tc.imageUser, "/seccomp")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestContainerSecurityRefuses(t *testing.T) {
	nonRoot := &v1.PodSecurityContext{RunAsNonRoot: ptr.To(true)}
	for _, tc := range []struct {
		name      string
		pod       *v1.PodSecurityContext
		ctr       *v1.SecurityContext
		imageUser string
		want      string
	}{
		{"image as root by default", nonRoot, nil, "",
			`container has runAsNonRoot and image will run as root (pod: "p_default(uid-p)", container: app)`},
		{"image as uid 0", nonRoot, nil, "0:0", "image will run as root"},
		{"runAsUser 0", nil, &v1.SecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](0)},
			"1000", `container's runAsUser breaks non-root policy (pod: "p_default(uid-p)", container: app)`},
		{"image user by name", nonRoot, nil, "app",
			`container has runAsNonRoot and image has non-numeric user (app), cannot verify user is non-root (pod: "p_default(uid-p)", container: app)`},
		{"localhost profile outside the folder", nil, &v1.SecurityContext{SeccompProfile: &v1.SeccompProfile{Type: v1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr.To("../x.json")}},
			"", "localhostProfile must be a relative path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := testPod("p", func(p *v1.Pod) {
				p.Spec.SecurityContext = tc.pod
				p.Spec.Containers[0].SecurityContext = tc.ctr
			})
			_, err := containerSecurity(pod, &pod.Spec.Containers[0], tc.imageUser, "/seccomp")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want %q", err, tc.want)
			}
		})
	}
	// A runAsUser that is not root passes, whatever the image's user.
	pod := testPod("p", func(p *v1.Pod) {
		p.Spec.SecurityContext = &v1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](1000)}
	})
	if _, err := containerSecurity(pod, &pod.Spec.Containers[0], "", "/seccomp"); err != nil {
		t.Errorf("runAsUser 1000 under runAsNonRoot: %v", err)
	}
}

// fsGroup, as the kubelet sets it: the volume's files belong to the group,
// folders are setgid. The group is this process' own, so that the test
// needs no root.
func TestFSGroupOwnership(t *testing.T) {
	gid := int64(os.Getgid())
	client := fake.NewClientset(&v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "cm"}, Data: map[string]string{"k": "v"}})
	in := New(testConfig(t), client)
	pod := testPod("p", func(p *v1.Pod) {
		p.Spec.SecurityContext = &v1.PodSecurityContext{FSGroup: &gid}
		p.Spec.Volumes = []v1.Volume{
			{Name: "scratch", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}},
			{Name: "conf", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "cm"}}}},
		}
		p.Spec.Containers[0].VolumeMounts = []v1.VolumeMount{{Name: "scratch", MountPath: "/scratch"}, {Name: "conf", MountPath: "/conf"}}
	})
	mounts, err := in.volumeMounts(context.Background(), pod, &pod.Spec.Containers[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{
		mounts[0].HostPath:                     os.ModeDir | os.ModeSetgid | 0o777,
		mounts[1].HostPath:                     os.ModeDir | os.ModeSetgid | 0o755,
		filepath.Join(mounts[1].HostPath, "k"): 0o644,
	} {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode() != want || int64(info.Sys().(*syscall.Stat_t).Gid) != gid {
			t.Errorf("%s: %v group %d, want %v group %d", path, info.Mode(), info.Sys().(*syscall.Stat_t).Gid, want, gid)
		}
	}
	// A file a container made in the emptyDir keeps its mode on the next start.
	made := filepath.Join(mounts[0].HostPath, "made")
	os.WriteFile(made, nil, 0o600)
	os.Chmod(made, 0o600)
	if _, err := in.volumeMounts(context.Background(), pod, &pod.Spec.Containers[0], nil); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(made); info.Mode() != 0o600 {
		t.Errorf("a file the container made: %v after a restart, want 0600", info.Mode())
	}
}
