package podinputs

import (
	"testing"

	v1 "k8s.io/api/core/v1"
)

func TestWithSubPaths(t *testing.T) {
	c := &v1.Container{VolumeMounts: []v1.VolumeMount{
		{Name: "work", MountPath: "/logs", SubPathExpr: "$(ANNOTATION)/$(POD_NAME)"},
		{Name: "work", MountPath: "/all"},
	}}
	got, err := withSubPaths(c, []string{"POD_NAME=web-0", "ANNOTATION=mypath"})
	if err != nil {
		t.Fatal(err)
	}
	if m := got.VolumeMounts[0]; m.SubPath != "mypath/web-0" || m.SubPathExpr != "" || got.VolumeMounts[1].SubPath != "" {
		t.Errorf("mounts %+v", got.VolumeMounts)
	}
	if c.VolumeMounts[0].SubPath != "" {
		t.Error("the pod's container was changed")
	}
	_, err = withSubPaths(c, []string{"POD_NAME=web-0", "ANNOTATION="})
	if err == nil || err.Error() != `volume "work": subPathExpr "$(ANNOTATION)/$(POD_NAME)": missing value for ANNOTATION` {
		t.Errorf("an empty variable: %v", err)
	}
	for sub, bad := range map[string]bool{"a/b": false, "": false, "a..b": false, "/tmp": true, "..": true, "a/../../b": true} {
		if err := checkSubPath(sub); (err != nil) != bad {
			t.Errorf("subPath %q: %v", sub, err)
		}
	}
}
