package podinputs

import (
	"log/slog"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kinns/kinns/kubelet/config"
)

func testConfig(t testing.TB) config.Config {
	cfg := config.Config{
		NodeName: "node-1", NodeIP: "10.89.0.21", PodCIDR: "10.244.1.0/24",
		ContainerdNamespace: "t-node-1", CgroupParent: "/kinns/t/node-1",
		StateDir: t.TempDir(), LogDir: t.TempDir(), Log: slog.New(slog.DiscardHandler),
	}
	cfg.Default()
	return cfg
}

func testPod(name string, mut ...func(*v1.Pod)) *v1.Pod {
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec: v1.PodSpec{
			NodeName: "node-1", RestartPolicy: v1.RestartPolicyAlways,
			Containers: []v1.Container{{Name: "app", Image: "kinns.local/testapp:latest"}},
		},
	}
	for _, f := range mut {
		f(p)
	}
	return p
}
