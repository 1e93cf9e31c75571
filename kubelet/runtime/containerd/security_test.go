package containerd

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/cap"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kinns/kinns/kubelet/runtime"
)

// specFor is the spec containerd would get for sec, on a root filesystem
// with files (path -> content).
func specFor(t *testing.T, sec runtime.Security, files map[string]string) (*specs.Spec, error) {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	opts, err := securityOpts(sec)
	if err != nil {
		return nil, err
	}
	ctx := namespaces.WithNamespace(context.Background(), "test")
	// The default spec has no_new_privs and an rlimit, as containerd's.
	return oci.GenerateSpec(ctx, nil, &containers.Container{ID: "c"}, append([]oci.SpecOpts{oci.WithRootFSPath(root)}, opts...)...)
}

func mustSpec(t *testing.T, sec runtime.Security, files map[string]string) *specs.Spec {
	t.Helper()
	s, err := specFor(t, sec, files)
	if err != nil {
		t.Fatalf("spec of %+v: %v", sec, err)
	}
	return s
}

func TestSecurityDefaults(t *testing.T) {
	s := mustSpec(t, runtime.Security{}, nil)
	p := s.Process
	if p.NoNewPrivileges || p.Rlimits != nil || s.Linux.Seccomp != nil || s.Root.Readonly {
		t.Errorf("defaults: no_new_privs %v, rlimits %v, seccomp %v, read-only root %v; want none, as the CRI plugin's",
			p.NoNewPrivileges, p.Rlimits, s.Linux.Seccomp, s.Root.Readonly)
	}
	if len(p.Capabilities.Effective) != 14 || !slices.Contains(p.Capabilities.Effective, "CAP_NET_BIND_SERVICE") {
		t.Errorf("default capabilities: %v", p.Capabilities.Effective)
	}
	if p.User.UID != 0 || p.User.GID != 0 {
		t.Errorf("user %+v, want root", p.User)
	}
}

func TestSecurityUser(t *testing.T) {
	etc := map[string]string{
		"etc/passwd": "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n",
		"etc/group":  "root:x:0:\napp:x:1001:\nstaff:x:50:app\n",
	}
	for _, tc := range []struct {
		name     string
		sec      runtime.Security
		uid, gid uint32
		groups   []uint32
	}{
		{"uid and gid", runtime.Security{User: "2000:3000"}, 2000, 3000, []uint32{3000}},
		{"uid from passwd, groups from group", runtime.Security{User: "1000"}, 1000, 1001, []uint32{50, 1001}},
		{"uid not in passwd", runtime.Security{User: "4242"}, 4242, 0, []uint32{0}},
		{"supplemental and fsGroup", runtime.Security{User: "1000:3000", SupplementalGroups: []int64{4000, 3000, 2000}}, 1000, 3000, []uint32{50, 2000, 3000, 4000}},
		{"strict", runtime.Security{User: "1000", StrictGroups: true, SupplementalGroups: []int64{7}}, 1000, 1001, []uint32{7, 1001}},
		{"supplemental for the image's user", runtime.Security{SupplementalGroups: []int64{5}}, 0, 0, []uint32{5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := mustSpec(t, tc.sec, etc).Process.User
			if u.UID != tc.uid || u.GID != tc.gid || !slices.Equal(u.AdditionalGids, tc.groups) {
				t.Errorf("user %d:%d groups %v, want %d:%d groups %v", u.UID, u.GID, u.AdditionalGids, tc.uid, tc.gid, tc.groups)
			}
		})
	}
}

func TestSecurityCapabilities(t *testing.T) {
	for _, tc := range []struct {
		name       string
		add, drop  []string
		has, hasNo []string
		count      int
	}{
		{name: "drop ALL", drop: []string{"ALL"}, count: 0},
		{name: "drop ALL, add one", drop: []string{"all"}, add: []string{"NET_BIND_SERVICE"}, has: []string{"CAP_NET_BIND_SERVICE"}, count: 1},
		{name: "both spellings", add: []string{"NET_ADMIN", "CAP_SYS_TIME"}, drop: []string{"cap_net_raw", "kill"},
			has: []string{"CAP_NET_ADMIN", "CAP_SYS_TIME", "CAP_CHOWN"}, hasNo: []string{"CAP_NET_RAW", "CAP_KILL"}, count: 14},
		{name: "drop wins over add", add: []string{"NET_ADMIN"}, drop: []string{"NET_ADMIN"}, hasNo: []string{"CAP_NET_ADMIN"}, count: 14},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustSpec(t, runtime.Security{CapAdd: tc.add, CapDrop: tc.drop}, nil).Process.Capabilities
			for _, set := range [][]string{c.Effective, c.Permitted, c.Bounding} {
				if len(set) != tc.count {
					t.Errorf("%d capabilities %v, want %d", len(set), set, tc.count)
				}
				for _, h := range tc.has {
					if !slices.Contains(set, h) {
						t.Errorf("%v lacks %s", set, h)
					}
				}
				for _, h := range tc.hasNo {
					if slices.Contains(set, h) {
						t.Errorf("%v has %s", set, h)
					}
				}
			}
		})
	}
	if _, err := specFor(t, runtime.Security{CapAdd: []string{"NET_WIZARD"}}, nil); err == nil || !strings.Contains(err.Error(), `unknown capability "NET_WIZARD"`) {
		t.Errorf("unknown capability: err %v", err)
	}
}

func TestSecurityPrivileged(t *testing.T) {
	s := mustSpec(t, runtime.Security{Privileged: true, Seccomp: runtime.SeccompRuntimeDefault, CapDrop: []string{"ALL"}}, nil)
	current, err := cap.Current()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Process.Capabilities.Effective, current) {
		t.Errorf("privileged capabilities %v, want this process' %v", s.Process.Capabilities.Effective, current)
	}
	if s.Linux.Seccomp != nil || len(s.Linux.MaskedPaths) > 0 || len(s.Linux.ReadonlyPaths) > 0 {
		t.Errorf("privileged: seccomp %v, masked %v, read-only paths %v; want none", s.Linux.Seccomp, s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	devs := s.Linux.Resources.Devices
	if len(devs) != 1 || !devs[0].Allow || devs[0].Access != "rwm" {
		t.Errorf("privileged device rules %+v, want all allowed", devs)
	}
	for _, m := range s.Mounts {
		if m.Type == "sysfs" && slices.Contains(m.Options, "ro") {
			t.Errorf("privileged: /sys mounted %v", m.Options)
		}
	}
}

func TestSecurityFlags(t *testing.T) {
	s := mustSpec(t, runtime.Security{NoNewPrivileges: true, ReadOnlyRootfs: true}, nil)
	if !s.Process.NoNewPrivileges || !s.Root.Readonly {
		t.Errorf("no_new_privs %v, read-only root %v; want both", s.Process.NoNewPrivileges, s.Root.Readonly)
	}
}

func TestSecuritySeccomp(t *testing.T) {
	s := mustSpec(t, runtime.Security{Seccomp: runtime.SeccompRuntimeDefault}, nil)
	if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActErrno || len(s.Linux.Seccomp.Syscalls) == 0 {
		t.Errorf("RuntimeDefault: %+v, want containerd's default profile", s.Linux.Seccomp)
	}
	profile := filepath.Join(t.TempDir(), "deny-mkdir.json")
	os.WriteFile(profile, []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}`), 0o644)
	s = mustSpec(t, runtime.Security{Seccomp: runtime.SeccompLocalhost, SeccompProfile: profile}, nil)
	if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActAllow || s.Linux.Seccomp.Syscalls[0].Names[0] != "mkdir" {
		t.Errorf("Localhost: %+v", s.Linux.Seccomp)
	}
	_, err := specFor(t, runtime.Security{Seccomp: runtime.SeccompLocalhost, SeccompProfile: "/nonexistent/p.json"}, nil)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/p.json") {
		t.Errorf("missing Localhost profile: err %v", err)
	}
	if _, err := specFor(t, runtime.Security{Seccomp: "Sometimes"}, nil); err == nil {
		t.Error("unknown seccomp type: no error")
	}
}

// TestSysctlsInOwnNamespaces: the pod's sysctls go to linux.sysctl, and the
// container has IPC and UTS namespaces of its own, so an IPC sysctl such as
// kernel.shm_rmid_forced changes the container's namespace, never the host's.
func TestSysctlsInOwnNamespaces(t *testing.T) {
	want := map[string]string{"kernel.shm_rmid_forced": "1", "net.ipv4.ip_unprivileged_port_start": "0"}
	s := mustSpec(t, runtime.Security{Sysctls: want}, nil)
	if !maps.Equal(s.Linux.Sysctl, want) {
		t.Errorf("linux.sysctl = %v, want %v", s.Linux.Sysctl, want)
	}
	for _, ns := range []specs.LinuxNamespaceType{specs.IPCNamespace, specs.UTSNamespace} {
		i := slices.IndexFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == ns })
		if i < 0 || s.Linux.Namespaces[i].Path != "" {
			t.Errorf("%s namespace: want a new one, namespaces %v", ns, s.Linux.Namespaces)
		}
	}
	if s := mustSpec(t, runtime.Security{}, nil); len(s.Linux.Sysctl) != 0 {
		t.Errorf("no sysctls asked, linux.sysctl = %v", s.Linux.Sysctl)
	}
}
