package images

import (
	"slices"
	"testing"

	"github.com/containerd/containerd/v2/core/containers"
)

func TestWithUsers(t *testing.T) {
	imgs := []Listed{{Name: "localhost:5001/b:1"}, {Name: "kinns.local/testapp:latest"}}
	ctrs := []containers.Container{
		{ID: "web_app_1_0", Image: "kinns.local/testapp:latest", Labels: map[string]string{
			labelPodNamespace: "default", labelPodName: "web", labelContainerName: "app"}},
		{ID: "by-hand", Image: "kinns.local/testapp:latest"},
		{ID: "other", Image: "docker.io/library/nginx:latest"},
	}
	got := withUsers(imgs, ctrs)
	if got[0].Name != "kinns.local/testapp:latest" || !slices.Equal(got[0].UsedBy, []string{"by-hand", "default/web/app"}) {
		t.Errorf("testapp: %+v", got[0])
	}
	if len(got[1].UsedBy) != 0 {
		t.Errorf("unused image shows users: %+v", got[1])
	}
}
