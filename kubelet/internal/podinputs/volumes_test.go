package podinputs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/kinns/kinns/kubelet/internal/tokens"
)

// The volume the API server's ServiceAccount admission adds to a pod.
func serviceAccountVolume() v1.Volume {
	exp := int64(3607)
	return v1.Volume{Name: "kube-api-access-x", VolumeSource: v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{Sources: []v1.VolumeProjection{
		{ServiceAccountToken: &v1.ServiceAccountTokenProjection{ExpirationSeconds: &exp, Path: "token"}},
		{ConfigMap: &v1.ConfigMapProjection{LocalObjectReference: v1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []v1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
		{DownwardAPI: &v1.DownwardAPIProjection{Items: []v1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
	}}}}
}

func TestProjectedServiceAccountVolume(t *testing.T) {
	client := fake.NewClientset(&v1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kube-root-ca.crt"},
		Data:       map[string]string{"ca.crt": "PEM"},
	})
	var asked *authenticationv1.TokenRequest
	client.PrependReactor("create", "serviceaccounts", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "token" {
			return false, nil, nil
		}
		asked = a.(k8stesting.CreateAction).GetObject().(*authenticationv1.TokenRequest)
		return true, &authenticationv1.TokenRequest{Status: authenticationv1.TokenRequestStatus{Token: "signed"}}, nil
	})
	in := New(testConfig(t), client)
	pod := testPod("p", func(p *v1.Pod) {
		p.UID = "uid-1"
		p.Labels = map[string]string{"app": "web", "tier": "front"}
		p.Spec.Volumes = []v1.Volume{serviceAccountVolume(), {Name: "info", VolumeSource: v1.VolumeSource{DownwardAPI: &v1.DownwardAPIVolumeSource{
			Items: []v1.DownwardAPIVolumeFile{{Path: "labels", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.labels"}}},
		}}}}
		p.Spec.Containers[0].VolumeMounts = []v1.VolumeMount{
			{Name: "kube-api-access-x", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true},
			{Name: "info", MountPath: "/etc/podinfo"},
		}
	})
	mounts, err := in.volumeMounts(context.Background(), pod, &pod.Spec.Containers[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) != 2 || mounts[0].ContainerPath != "/var/run/secrets/kubernetes.io/serviceaccount" || !mounts[0].ReadOnly {
		t.Fatalf("mounts %+v", mounts)
	}
	for name, want := range map[string]string{"token": "signed", "ca.crt": "PEM", "namespace": "default"} {
		b, err := os.ReadFile(filepath.Join(mounts[0].HostPath, name))
		if err != nil || string(b) != want {
			t.Errorf("%s: %q, %v; want %q", name, b, err, want)
		}
	}
	if asked == nil || asked.Spec.BoundObjectRef == nil || asked.Spec.BoundObjectRef.UID != "uid-1" || *asked.Spec.ExpirationSeconds != 3607 {
		t.Errorf("token request %+v: want one bound to the pod, for 3607 s", asked)
	}
	b, _ := os.ReadFile(filepath.Join(mounts[1].HostPath, "labels"))
	if string(b) != "app=\"web\"\ntier=\"front\"\n" {
		t.Errorf("labels file %q", b)
	}
}

func TestProjectedVolumeFailsOnAMissingConfigMap(t *testing.T) {
	in := New(testConfig(t), fake.NewClientset())
	pod := testPod("p", func(p *v1.Pod) {
		v := serviceAccountVolume()
		v.Projected.Sources = v.Projected.Sources[1:2]
		p.Spec.Volumes = []v1.Volume{v}
		p.Spec.Containers[0].VolumeMounts = []v1.VolumeMount{{Name: v.Name, MountPath: "/x"}}
	})
	_, err := in.volumeMounts(context.Background(), pod, &pod.Spec.Containers[0], nil)
	var me *MountError
	if !errors.As(err, &me) || !strings.HasPrefix(me.Msg, `MountVolume.SetUp failed for volume "kube-api-access-x" : `) {
		t.Fatalf("a missing configmap source should hold the start as a mount failure (FailedMount, ContainerCreating) until it exists: %v", err)
	}
}

func TestRefreshTokensRewritesTheVolumeInPlace(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(&v1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kube-root-ca.crt"},
		Data:       map[string]string{"ca.crt": "PEM"},
	})
	c := clocktesting.NewFakeClock(time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC))
	issued := 0
	client.PrependReactor("create", "serviceaccounts", func(a k8stesting.Action) (bool, runtime.Object, error) {
		tr := a.(k8stesting.CreateAction).GetObject().(*authenticationv1.TokenRequest).DeepCopy()
		issued++
		tr.Status.Token = "token-" + strconv.Itoa(issued)
		tr.Status.ExpirationTimestamp = metav1.NewTime(c.Now().Add(time.Duration(*tr.Spec.ExpirationSeconds) * time.Second))
		return true, tr, nil
	})
	in := New(testConfig(t), client)
	in.tokens = tokens.New(client, 20*time.Second, c)
	pod := testPod("p", func(p *v1.Pod) {
		p.Spec.Volumes = []v1.Volume{serviceAccountVolume()}
		p.Spec.Containers[0].VolumeMounts = []v1.VolumeMount{{Name: "kube-api-access-x", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}}
	})
	if err := in.RefreshTokens(ctx, pod); err != nil || issued != 0 {
		t.Fatalf("before any container started: %v, %d tokens asked for; want nothing done", err, issued)
	}
	mounts, err := in.volumeMounts(ctx, pod, &pod.Spec.Containers[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := mounts[0].HostPath
	read := func(want string) {
		t.Helper()
		if b, err := os.ReadFile(filepath.Join(dir, "token")); err != nil || string(b) != want {
			t.Fatalf("token %q, %v; want %q", b, err, want)
		}
	}
	read("token-1")
	c.Step(10 * time.Second)
	if err := in.RefreshTokens(ctx, pod); err != nil || issued != 1 {
		t.Fatalf("at 10 s: %v, %d tokens; want the first kept", err, issued)
	}
	if _, err := in.volumeMounts(ctx, pod, &pod.Spec.Containers[0], nil); err != nil || issued != 1 {
		t.Fatalf("a restart at 10 s: %v, %d tokens; want the first kept", err, issued)
	}
	c.Step(10 * time.Second)
	before, _ := os.Readlink(filepath.Join(dir, "..data"))
	if err := in.RefreshTokens(ctx, pod); err != nil {
		t.Fatal(err)
	}
	read("token-2")
	after, _ := os.Readlink(filepath.Join(dir, "..data"))
	if link, err := os.Readlink(filepath.Join(dir, "token")); err != nil || link != "..data/token" || before == after || before == "" {
		t.Errorf("token links to %q (%v), ..data %q then %q: want token -> ..data/token and a new ..data", link, err, before, after)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "ca.crt")); string(b) != "PEM" {
		t.Errorf("ca.crt %q after the refresh", b)
	}
	in.ForgetPod(pod.UID)
	if err := in.RefreshTokens(ctx, pod); err != nil || issued != 3 {
		t.Fatalf("after ForgetPod: %v, %d tokens; want a new one", err, issued)
	}
}
