package harness

import (
	"strings"
	"testing"
)

func TestRegistryHosts(t *testing.T) {
	files, err := RegistryHosts([]string{"docker.io=http://127.0.0.1:5000", "docker.io=https://mirror.example"},
		[]string{"127.0.0.1:5000", "registry.lan"})
	if err != nil {
		t.Fatal(err)
	}
	docker := files["docker.io"]
	if !strings.HasPrefix(docker, `server = "https://registry-1.docker.io"`) ||
		strings.Index(docker, `[host."http://127.0.0.1:5000"]`) > strings.Index(docker, `[host."https://mirror.example"]`) {
		t.Errorf("docker.io hosts.toml: mirrors in order, before the registry:\n%s", docker)
	}
	if !strings.Contains(docker, "skip_verify = true") || strings.Count(docker, "skip_verify") != 1 {
		t.Errorf("the insecure mirror alone skips verification:\n%s", docker)
	}
	if lan := files["registry.lan"]; !strings.Contains(lan, `[host."http://registry.lan"]`) || !strings.Contains(lan, "skip_verify = true") {
		t.Errorf("insecure registry:\n%s", lan)
	}
	for _, bad := range [][2][]string{
		{{"docker.io"}, nil}, {{"docker.io=ftp://x"}, nil}, {{"=http://x"}, nil}, {nil, {"http://x"}}, {nil, {"x:"}},
	} {
		if _, err := RegistryHosts(bad[0], bad[1]); err == nil {
			t.Errorf("%q %q accepted", bad[0], bad[1])
		}
	}
}
