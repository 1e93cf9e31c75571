package images

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kinns/kinns/kubelet/runtime"
)

func TestDecide(t *testing.T) {
	for _, tc := range []struct {
		policy  v1.PullPolicy
		name    string
		present bool
		want    step
	}{
		{v1.PullNever, "docker.io/library/nginx:1", true, useLocal},
		{v1.PullNever, "docker.io/library/nginx:1", false, neverPull},
		{v1.PullIfNotPresent, "docker.io/library/nginx:1", true, useLocal},
		{v1.PullIfNotPresent, "docker.io/library/nginx:1", false, pull},
		{v1.PullAlways, "docker.io/library/nginx:1", true, pull},
		{v1.PullAlways, "docker.io/library/nginx:1", false, pull},
		// The lab's own store: no registry behind it.
		{v1.PullAlways, "kinns.local/testapp:latest", true, useLocal},
		{v1.PullAlways, "kinns.local/nope:1", false, notInLab},
		{v1.PullIfNotPresent, "kinns.local/nope:1", false, notInLab},
		{v1.PullNever, "kinns.local/testapp:latest", true, useLocal},
	} {
		if got := decide(tc.policy, tc.name, tc.present); got != tc.want {
			t.Errorf("decide(%s, %s, present=%v) = %d, want %d", tc.policy, tc.name, tc.present, got, tc.want)
		}
	}
}

func TestPolicyDefault(t *testing.T) {
	for image, want := range map[string]v1.PullPolicy{
		"nginx": v1.PullAlways, "nginx:latest": v1.PullAlways, "nginx:1.27": v1.PullIfNotPresent,
		"nginx@sha256:" + strings.Repeat("a", 64): v1.PullIfNotPresent,
	} {
		name, _ := runtime.NormalizeImage(image)
		if got := policyOf(&v1.Container{Image: image}, name); got != want {
			t.Errorf("%s: policy %s, want %s", image, got, want)
		}
	}
}

func dockerConfigJSON(server, user, pass string) *v1.Secret {
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	return &v1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: user, Namespace: "default"},
		Type:       v1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{v1.DockerConfigJsonKey: fmt.Appendf(nil, `{"auths":{%q:{"auth":%q}}}`, server, auth)},
	}
}

func TestKeyring(t *testing.T) {
	legacy := &v1.Secret{
		Type: v1.SecretTypeDockercfg,
		Data: map[string][]byte{v1.DockerConfigKey: fmt.Appendf(nil, `{"https://legacy.example/v1/":{"auth":%q}}`, base64.StdEncoding.EncodeToString([]byte("old:pw")))},
	}
	list := []v1.Secret{
		*dockerConfigJSON("127.0.0.1:5000", "local", "a"),
		*dockerConfigJSON("https://registry.example/team", "team", "b"),
		*dockerConfigJSON("registry.example", "all", "c"),
		*dockerConfigJSON("*.corp.example", "glob", "d"),
		*legacy,
		{Type: v1.SecretTypeOpaque, Data: map[string][]byte{"x": []byte("y")}},
	}
	for image, want := range map[string]string{
		"127.0.0.1:5000/testapp:1":            "local",
		"127.0.0.1:5001/testapp:1":            "",
		"registry.example/team/app:1":         "team,all", // most specific first
		"registry.example/other/app:1":        "all",
		"eu.corp.example/app:1":               "glob",
		"corp.example/app:1":                  "",
		"legacy.example/app:1":                "old",
		"docker.io/library/nginx:1":           "",
		"registry.example.evil.test/team/x:1": "",
	} {
		name, err := runtime.NormalizeImage(image)
		if err != nil {
			t.Fatal(err)
		}
		var users []string
		for _, a := range lookup(list, name) {
			users = append(users, a.Username)
		}
		if got := strings.Join(users, ","); got != want {
			t.Errorf("%s: credentials of %q, want %q", image, got, want)
		}
	}
}

// fakeStore is an image store whose pulls wait on a gate.
type fakeStore struct {
	mu      sync.Mutex
	present map[string]runtime.Image
	pulls   []string         // "<name> <user>"
	fail    map[string]error // by user: the registry's answer
	gate    chan struct{}
}

func (f *fakeStore) LocalImage(_ context.Context, name string) (runtime.Image, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	img, ok := f.present[name]
	return img, ok, nil
}

func (f *fakeStore) PullImage(_ context.Context, name string, auth *runtime.Auth) (runtime.Image, error) {
	user := ""
	if auth != nil {
		user = auth.Username
	}
	f.mu.Lock()
	f.pulls = append(f.pulls, name+" "+user)
	gate := f.gate
	err := f.fail[user]
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if err != nil {
		return runtime.Image{}, &runtime.ImageError{Reason: "ErrImagePull", Image: name, Err: err}
	}
	img := runtime.Image{Ref: name, ID: name + "@sha256:new", Size: 1234}
	f.mu.Lock()
	f.present[name] = img
	f.mu.Unlock()
	return img, nil
}

type recorded struct {
	mu     sync.Mutex
	events []string
}

func (r *recorded) add(_ *v1.Pod, kind, reason, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, kind+" "+reason+" "+msg)
}

func newTestManager(store *fakeStore, secrets ...*v1.Secret) (*Manager, *recorded) {
	rec := &recorded{}
	m := New(Config{Store: store, Event: rec.add, Secret: func(_ context.Context, ns, name string) (*v1.Secret, error) {
		for _, s := range secrets {
			if s.Name == name {
				return s, nil
			}
		}
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)
	}})
	return m, rec
}

func podWith(image string, policy v1.PullPolicy, secrets ...string) (*v1.Pod, *v1.Container) {
	p := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"}}
	for _, s := range secrets {
		p.Spec.ImagePullSecrets = append(p.Spec.ImagePullSecrets, v1.LocalObjectReference{Name: s})
	}
	p.Spec.Containers = []v1.Container{{Name: "c", Image: image, ImagePullPolicy: policy}}
	return p, &p.Spec.Containers[0]
}

func TestEnsureEvents(t *testing.T) {
	store := &fakeStore{present: map[string]runtime.Image{"docker.io/library/here:1": {Ref: "docker.io/library/here:1"}}}
	m, rec := newTestManager(store)
	ctx := context.Background()

	pod, c := podWith("here:1", v1.PullIfNotPresent)
	if _, err := m.Ensure(ctx, pod, c); err != nil {
		t.Fatal(err)
	}
	pod, c = podWith("absent:1", v1.PullNever)
	var ie *runtime.ImageError
	if _, err := m.Ensure(ctx, pod, c); !errors.As(err, &ie) || ie.Reason != "ErrImageNeverPull" {
		t.Fatalf("Never and absent: %v", err)
	}
	pod, c = podWith("fresh", v1.PullAlways)
	img, err := m.Ensure(ctx, pod, c)
	if err != nil || img.Size != 1234 {
		t.Fatalf("pull: %+v %v", img, err)
	}
	pod, c = podWith("kinns.local/nope:1", v1.PullAlways)
	if _, err := m.Ensure(ctx, pod, c); !errors.As(err, &ie) || ie.Reason != "ErrImagePull" || !strings.Contains(err.Error(), "lab load") {
		t.Fatalf("kinns.local absent: %v", err)
	}
	want := []string{
		`Normal Pulled Container image "here:1" already present on machine`,
		`Warning ErrImageNeverPull Container image "absent:1" is not present with pull policy of Never`,
		`Normal Pulling Pulling image "fresh:latest"`,
		`Normal Pulled Successfully pulled image "fresh:latest" in `,
		`Warning Failed Failed to pull image "kinns.local/nope:1": not in the lab's image store`,
	}
	if len(rec.events) != len(want) {
		t.Fatalf("events %q", rec.events)
	}
	for i, w := range want {
		if !strings.HasPrefix(rec.events[i], w) {
			t.Errorf("event %d: %q, want %q…", i, rec.events[i], w)
		}
	}
	if !strings.HasSuffix(rec.events[3], "including waiting). Image size: 1234 bytes.") {
		t.Errorf("pulled event %q", rec.events[3])
	}
}

func TestPullCredentialsInTurn(t *testing.T) {
	store := &fakeStore{present: map[string]runtime.Image{}, fail: map[string]error{
		"wrong": errors.New("unexpected status from HEAD request: 401 Unauthorized"),
		"":      errors.New("unexpected status from HEAD request: 401 Unauthorized"),
	}}
	m, rec := newTestManager(store, dockerConfigJSON("127.0.0.1:5000", "wrong", "x"), dockerConfigJSON("127.0.0.1:5000/app", "right", "y"))
	pod, c := podWith("127.0.0.1:5000/app:1", v1.PullIfNotPresent, "wrong", "right", "gone")
	if _, err := m.Ensure(context.Background(), pod, c); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(store.pulls, ","); got != "127.0.0.1:5000/app:1 right" {
		t.Errorf("pulls %q: the most specific key first, and it worked", got)
	}
	if !strings.Contains(strings.Join(rec.events, "\n"), "Unable to retrieve some image pull secrets (gone)") {
		t.Errorf("no event for the missing secret: %q", rec.events)
	}

	// Without a secret: anonymous, and the registry's answer in the error.
	pod, c = podWith("127.0.0.1:5000/private:1", v1.PullIfNotPresent)
	_, err := m.Ensure(context.Background(), pod, c)
	if err == nil || !strings.Contains(err.Error(), "401 Unauthorized") {
		t.Fatalf("anonymous pull of a private image: %v", err)
	}
	if last := rec.events[len(rec.events)-1]; !strings.HasPrefix(last, `Warning Failed Failed to pull image "127.0.0.1:5000/private:1": `) || !strings.Contains(last, "401") {
		t.Errorf("failed event %q", last)
	}
}

func TestConcurrentPullsShared(t *testing.T) {
	store := &fakeStore{present: map[string]runtime.Image{}, gate: make(chan struct{})}
	m, rec := newTestManager(store)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() {
			pod, c := podWith("registry.example/app:1", v1.PullAlways)
			_, errs[i] = m.Ensure(context.Background(), pod, c)
		})
	}
	// Let every Ensure join the flight before the pull ends.
	waitUntil(t, func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.events) == 3
	})
	close(store.gate)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(store.pulls) != 1 {
		t.Errorf("%d pulls for 3 concurrent containers: %q", len(store.pulls), store.pulls)
	}
	pulled := 0
	for _, e := range rec.events {
		if strings.Contains(e, "Successfully pulled") {
			pulled++
		}
	}
	if pulled != 3 {
		t.Errorf("each pod is told of its pull: %q", rec.events)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met")
		}
	}
}

func TestEnsureVolumeByItsPolicy(t *testing.T) {
	store := &fakeStore{present: map[string]runtime.Image{"docker.io/library/vol:1": {Ref: "docker.io/library/vol:1"}}, fail: map[string]error{}}
	m, rec := newTestManager(store, dockerConfigJSON("registry.lan", "alice", "pw"))
	ctx := context.Background()
	pod, _ := podWith("unused", v1.PullNever, "alice")

	if _, err := m.EnsureVolume(ctx, pod, &v1.ImageVolumeSource{Reference: "vol:1", PullPolicy: v1.PullIfNotPresent}); err != nil {
		t.Fatal(err)
	}
	var ie *runtime.ImageError
	if _, err := m.EnsureVolume(ctx, pod, &v1.ImageVolumeSource{Reference: "gone:1", PullPolicy: v1.PullNever}); !errors.As(err, &ie) || ie.Reason != "ErrImageNeverPull" {
		t.Fatalf("Never and absent: %v", err)
	}
	// Always asks the registry even for a stored image, with the pod's
	// pull secret for that registry.
	img, err := m.EnsureVolume(ctx, pod, &v1.ImageVolumeSource{Reference: "registry.lan/vol:1", PullPolicy: v1.PullAlways})
	if err != nil || img.Ref != "registry.lan/vol:1" {
		t.Fatalf("pull: %+v %v", img, err)
	}
	if got := store.pulls; len(got) != 1 || got[0] != "registry.lan/vol:1 alice" {
		t.Errorf("pulls %q", got)
	}
	store.fail["alice"] = errors.New("denied")
	if _, err := m.EnsureVolume(ctx, pod, &v1.ImageVolumeSource{Reference: "registry.lan/vol:2", PullPolicy: v1.PullAlways}); !errors.As(err, &ie) || ie.Reason != "ErrImagePull" {
		t.Fatalf("failed pull: %v", err)
	}
	want := []string{
		`Normal Pulled Container image "vol:1" already present on machine`,
		`Warning ErrImageNeverPull Container image "gone:1" is not present with pull policy of Never`,
		`Normal Pulling Pulling image "registry.lan/vol:1"`,
		`Normal Pulled Successfully pulled image "registry.lan/vol:1"`,
		`Normal Pulling Pulling image "registry.lan/vol:2"`,
		`Warning Failed Failed to pull image "registry.lan/vol:2": denied`,
	}
	if len(rec.events) != len(want) {
		t.Fatalf("events %q", rec.events)
	}
	for i, w := range want {
		if !strings.HasPrefix(rec.events[i], w) {
			t.Errorf("event %d: %q, want %q…", i, rec.events[i], w)
		}
	}
}
