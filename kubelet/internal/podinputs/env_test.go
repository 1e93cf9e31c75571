package podinputs

import (
	"context"
	"errors"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kinns/kinns/kubelet/config"
)

type mapSource map[string]map[string]string

func (m mapSource) get(name string) (map[string]string, error) {
	if d, ok := m[name]; ok {
		return d, nil
	}
	return nil, errors.New(name + " not found")
}
func (m mapSource) configMap(_ context.Context, _, name string) (map[string]string, error) {
	return m.get("cm/" + name)
}
func (m mapSource) secret(_ context.Context, _, name string) (map[string]string, error) {
	return m.get("secret/" + name)
}
func (m mapSource) serviceEnv(string, bool) map[string]string { return m["services"] }

func TestContainerEnv(t *testing.T) {
	pod := testPod("p", func(p *v1.Pod) { p.Labels = map[string]string{"app": "web"} })
	yes := true
	c := &v1.Container{
		Name: "app",
		EnvFrom: []v1.EnvFromSource{
			{ConfigMapRef: &v1.ConfigMapEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "conf"}}, Prefix: "CFG_"},
		},
		Env: []v1.EnvVar{
			{Name: "A", Value: "a"},
			{Name: "B", Value: "$(A)-$(MISSING)-$$(A)"},
			{Name: "LABEL", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
			{Name: "HOST", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "status.hostIP"}}},
			{Name: "PASS", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "s"}, Key: "pw"}}},
			{Name: "OPT", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "none"}, Key: "k", Optional: &yes}}},
			{Name: "MEM", ValueFrom: &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
			{Name: "A", Value: "again"},
		},
		Resources: v1.ResourceRequirements{Limits: v1.ResourceList{v1.ResourceMemory: resource.MustParse("64Mi")}},
	}
	src := mapSource{"cm/conf": {"mode": "fast", "bad-key": "x"}, "secret/s": {"pw": "hunter2"}}
	env, err := containerEnv(context.Background(), src, pod, c, "10.244.1.4", "10.89.0.21")
	if err != nil {
		t.Fatal(err)
	}
	want := "CFG_bad-key=x CFG_mode=fast A=again B=a-$(MISSING)-$(A) LABEL=web HOST=10.89.0.21 PASS=hunter2 MEM=64" // OPT: optional and missing, so unset
	if got := strings.Join(env, " "); got != want {
		t.Errorf("env\n got %s\nwant %s", got, want)
	}
	if got := expandAll([]string{"$(A)", "x$(B)"}, env); got[0] != "again" || got[1] != "xa-$(MISSING)-$(A)" {
		t.Errorf("expanded %q", got)
	}
	c.Env = []v1.EnvVar{{Name: "X", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "nope"}, Key: "k"}}}}
	if _, err := containerEnv(context.Background(), src, pod, c, "", ""); err == nil {
		t.Error("a missing secret is not an error")
	}
}

// envFrom passes every key with its prefix, whatever the shell would call a
// name, as upstream's "consumable as environment variable names with
// various prefixes" conformance tests expect.
func TestEnvFromAnyPrefix(t *testing.T) {
	ref := v1.ConfigMapEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "conf"}}
	c := &v1.Container{Name: "app"}
	for _, prefix := range []string{"", "1-", "$_-", "ABC_", "#@!"} {
		c.EnvFrom = append(c.EnvFrom, v1.EnvFromSource{Prefix: prefix, ConfigMapRef: &ref})
	}
	c.EnvFrom = append(c.EnvFrom, v1.EnvFromSource{Prefix: "s.", SecretRef: &v1.SecretEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "s"}}})
	src := mapSource{"cm/conf": {"data-1": "value-1", "data-2": "value-2"}, "secret/s": {"data-1": "value-1"}}
	env, err := containerEnv(context.Background(), src, testPod("p"), c, "", "")
	if err != nil {
		t.Fatal(err)
	}
	want := "data-1=value-1 data-2=value-2 1-data-1=value-1 1-data-2=value-2 $_-data-1=value-1 $_-data-2=value-2 " +
		"ABC_data-1=value-1 ABC_data-2=value-2 #@!data-1=value-1 #@!data-2=value-2 s.data-1=value-1"
	if got := strings.Join(env, " "); got != want {
		t.Errorf("env\n got %s\nwant %s", got, want)
	}
}

func TestPodFiles(t *testing.T) {
	in := &Inputs{cfg: config.Config{ClusterDNS: []string{"10.96.0.10"}, ClusterDomain: "cluster.local"}}
	pod := testPod("web-0", func(p *v1.Pod) {
		p.Namespace = "shop"
		p.Spec.Hostname, p.Spec.Subdomain = "web-0", "web"
		p.Spec.HostAliases = []v1.HostAlias{{IP: "10.0.0.1", Hostnames: []string{"a", "b"}}}
	})
	hosts := hostsFile(pod, "10.244.1.7", "cluster.local", nil)
	want := "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n" +
		"10.244.1.7\tweb-0.web.shop.svc.cluster.local\tweb-0\n\n# Entries added by HostAliases.\n10.0.0.1\ta\tb\n"
	if hosts != want {
		t.Errorf("hosts\n%s\nwant\n%s", hosts, want)
	}
	pod.Spec.HostNetwork = true
	if got := hostsFile(pod, "10.89.0.21", "cluster.local", []byte("127.0.0.1 localhost\n")); got !=
		"# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n\n# Entries added by HostAliases.\n10.0.0.1\ta\tb\n" {
		t.Errorf("hostNetwork hosts\n%s", got)
	}
	pod.Spec.HostNetwork = false
	c := &v1.Container{VolumeMounts: []v1.VolumeMount{{Name: "own", MountPath: "/etc/hosts"}}}
	if ms := podFileMounts(Sandbox{Dir: "/d"}, c); len(ms) != 2 || ms[0].ContainerPath != "/etc/resolv.conf" {
		t.Errorf("a container mounting its own /etc/hosts: pod file mounts %+v, want resolv.conf and hostname alone", ms)
	}
	want = "nameserver 10.96.0.10\nsearch shop.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"
	if got := in.resolvConf(pod); got != want {
		t.Errorf("resolv.conf\n%s", got)
	}
	pod.Spec.DNSPolicy = v1.DNSNone
	pod.Spec.DNSConfig = &v1.PodDNSConfig{Nameservers: []string{"1.1.1.1"}}
	if got := in.resolvConf(pod); got != "nameserver 1.1.1.1\n" {
		t.Errorf("resolv.conf with policy None\n%s", got)
	}
}

func TestServiceEnv(t *testing.T) {
	svc := func(ns, name, ip string, port int32) *v1.Service {
		s := &v1.Service{Spec: v1.ServiceSpec{ClusterIP: ip, Ports: []v1.ServicePort{{Name: "http", Port: port, Protocol: v1.ProtocolTCP}}}}
		s.Namespace, s.Name = ns, name
		return s
	}
	all := []*v1.Service{
		svc("default", "kubernetes", "10.96.0.1", 443),
		svc("shop", "web-front", "10.96.0.20", 80),
		svc("shop", "headless", "None", 80),
		svc("other", "db", "10.96.0.30", 5432),
	}
	got := serviceEnv(all, "shop", true)
	for k, v := range map[string]string{
		"KUBERNETES_SERVICE_HOST":       "10.96.0.1",
		"KUBERNETES_SERVICE_PORT":       "443",
		"WEB_FRONT_SERVICE_HOST":        "10.96.0.20",
		"WEB_FRONT_SERVICE_PORT_HTTP":   "80",
		"WEB_FRONT_PORT":                "tcp://10.96.0.20:80",
		"WEB_FRONT_PORT_80_TCP_ADDR":    "10.96.0.20",
		"KUBERNETES_PORT_443_TCP_PROTO": "tcp",
	} {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for k := range got {
		if strings.HasPrefix(k, "HEADLESS_") || strings.HasPrefix(k, "DB_") {
			t.Errorf("%s should not be set", k)
		}
	}
	noLinks := serviceEnv(all, "shop", false)
	if _, ok := noLinks["WEB_FRONT_SERVICE_HOST"]; ok {
		t.Error("enableServiceLinks=false still links the namespace's services")
	}
	if noLinks["KUBERNETES_SERVICE_HOST"] != "10.96.0.1" {
		t.Error("the kubernetes Service is always there")
	}
}

func TestContainerEnvSetsServiceVariablesLast(t *testing.T) {
	pod := testPod("p")
	c := &v1.Container{Name: "app", Env: []v1.EnvVar{
		{Name: "API", Value: "https://$(KUBERNETES_SERVICE_HOST)"},
		{Name: "KUBERNETES_SERVICE_PORT", Value: "mine"},
	}}
	src := mapSource{"services": {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}}
	env, err := containerEnv(context.Background(), src, pod, c, "", "")
	if err != nil {
		t.Fatal(err)
	}
	want := "API=https://10.96.0.1 KUBERNETES_SERVICE_PORT=mine KUBERNETES_SERVICE_HOST=10.96.0.1"
	if got := strings.Join(env, " "); got != want {
		t.Errorf("env\n got %s\nwant %s", got, want)
	}
}
