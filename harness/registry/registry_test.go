package registry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/kinns/kinns/harness/images"
)

func serve(t *testing.T, cfg ServerConfig) (host string, close func()) {
	t.Helper()
	h, err := Handler(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	return strings.TrimPrefix(srv.URL, "http://"), srv.Close
}

// testArchive is kinns' own test image archive (OCI layout with a docker
// manifest.json), around a stand-in binary.
func testArchive(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "testapp")
	if err := os.WriteFile(bin, []byte("not really testapp"), 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := images.BuildArchive(context.Background(), bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPushedImagesSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	host, stop := serve(t, ServerConfig{Dir: dir})
	pushed, err := PushTo(context.Background(), host, authn.Anonymous, testArchive(t), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(pushed) != 1 || pushed[0].Ref != host+"/testapp:latest" {
		t.Fatalf("pushed %+v, want %s/testapp:latest", pushed, host)
	}
	stop()

	host, stop = serve(t, ServerConfig{Dir: dir}) // a new process, same folder
	defer stop()
	ref, _ := name.ParseReference(host + "/testapp:latest")
	img, err := remote.Image(ref)
	if err != nil {
		t.Fatalf("image gone after a restart: %v", err)
	}
	if d, _ := img.Digest(); d.String() != pushed[0].Digest {
		t.Errorf("digest %s after restart, pushed %s", d, pushed[0].Digest)
	}
	if _, err := img.Layers(); err != nil {
		t.Fatal(err)
	}
	tags, err := remote.List(ref.Context())
	if err != nil || len(tags) != 1 || tags[0] != "latest" {
		t.Errorf("tags %v, %v", tags, err)
	}
}

func TestPrivateRegistryAsksForBasicAuth(t *testing.T) {
	host, stop := serve(t, ServerConfig{Dir: t.TempDir(), User: "me", Password: "s3cret"})
	defer stop()
	resp, err := http.Get("http://" + host + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != `Basic realm="kinns"` {
		t.Fatalf("anonymous /v2/: %s, challenge %q", resp.Status, resp.Header.Get("WWW-Authenticate"))
	}
	archive := testArchive(t)
	if _, err := PushTo(context.Background(), host, &authn.Basic{Username: "me", Password: "wrong"}, archive, "app:1"); err == nil {
		t.Fatal("push with a wrong password worked")
	}
	if _, err := PushTo(context.Background(), host, &authn.Basic{Username: "me", Password: "s3cret"}, archive, "app:1"); err != nil {
		t.Fatalf("push with the credentials: %v", err)
	}
}

func TestDockerSaveArchive(t *testing.T) {
	img, err := random.Image(256, 2)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "nginx.tar")
	tag, _ := name.NewTag("nginx:1.27")
	if err := tarball.WriteToFile(p, tag, img); err != nil {
		t.Fatal(err)
	}
	host, stop := serve(t, ServerConfig{Dir: t.TempDir()})
	defer stop()
	pushed, err := PushTo(context.Background(), host, authn.Anonymous, p, "")
	if err != nil {
		t.Fatal(err)
	}
	if pushed[0].Ref != host+"/nginx:1.27" {
		t.Errorf("pushed as %s", pushed[0].Ref)
	}
}

func TestBadArchives(t *testing.T) {
	host := "localhost:5001"
	if _, err := PushTo(context.Background(), host, authn.Anonymous, filepath.Join(t.TempDir(), "missing.tar"), ""); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing archive: %v", err)
	}
	notTar := filepath.Join(t.TempDir(), "x.tar")
	os.WriteFile(notTar, []byte("hello"), 0o644)
	if _, err := PushTo(context.Background(), host, authn.Anonymous, notTar, ""); err == nil || !strings.Contains(err.Error(), "not an image archive") && !strings.Contains(err.Error(), "tar") {
		t.Errorf("not a tar: %v", err)
	}
}

func TestRehome(t *testing.T) {
	for in, want := range map[string]string{
		"kinns.local/testapp:latest":  "localhost:5001/testapp:latest",
		"nginx":                       "localhost:5001/nginx:latest",
		"docker.io/library/nginx:1":   "localhost:5001/nginx:1",
		"quay.io/org/app:v2":          "localhost:5001/org/app:v2",
		"ghcr.io/a/b/c:t":             "localhost:5001/a/b/c:t",
		"registry.example:5000/x/y:z": "localhost:5001/x/y:z",
	} {
		got, err := Rehome("localhost:5001", in)
		if err != nil || got.String() != want {
			t.Errorf("Rehome(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	if _, err := Rehome("localhost:5001", "Bad Name"); err == nil {
		t.Error("a bad name was taken")
	}
}

func TestExplicitTarget(t *testing.T) {
	for in, want := range map[string]string{
		"testapp:1":                "localhost:5001/testapp:1",
		"localhost:5001/testapp:1": "localhost:5001/testapp:1",
		"127.0.0.1:5001/a/b:2":     "localhost:5001/a/b:2",
		"app":                      "localhost:5001/app:latest",
	} {
		got, err := explicitTarget("localhost:5001", in)
		if err != nil || got.String() != want {
			t.Errorf("explicitTarget(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	if _, err := explicitTarget("localhost:5001", "quay.io/x:1"); err == nil || !strings.Contains(err.Error(), "pushes to localhost:5001 only") {
		t.Errorf("foreign registry: %v", err)
	}
}

func TestStatusWithoutRegistry(t *testing.T) {
	r := Registry{StateRoot: t.TempDir(), Port: 5999}
	if _, err := r.Status(); err == nil || !strings.Contains(err.Error(), "lab registry up --port 5999") {
		t.Errorf("status: %v", err)
	}
	if _, err := r.Push(context.Background(), "x.tar", ""); err == nil || !strings.Contains(err.Error(), "lab registry up") {
		t.Errorf("push: %v", err)
	}
	if err := r.Down(context.Background(), false); err == nil {
		t.Error("down of nothing succeeded")
	}
	if err := (Registry{StateRoot: t.TempDir(), Port: 70000}).Down(context.Background(), false); err == nil {
		t.Error("port 70000 accepted")
	}
}
