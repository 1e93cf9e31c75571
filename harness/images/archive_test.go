package images

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// fakeBinary writes a stand-in for testapp: the archive does not care what the
// file does.
func fakeBinary(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "testapp")
	if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBuildArchiveCachesByContent(t *testing.T) {
	ctx := context.Background()
	cache := t.TempDir()
	bin := fakeBinary(t, "binary one")
	before := archivesBuilt.Load()
	first, err := BuildArchive(ctx, bin, cache)
	if err != nil {
		t.Fatal(err)
	}
	fi1, _ := os.Stat(first)
	again, err := BuildArchive(ctx, bin, cache)
	if err != nil {
		t.Fatal(err)
	}
	fi2, _ := os.Stat(again)
	if again != first || archivesBuilt.Load() != before+1 || !fi2.ModTime().Equal(fi1.ModTime()) {
		t.Fatalf("second build of the same binary rebuilt: %s then %s, %d builds", first, again, archivesBuilt.Load()-before)
	}
	other, err := BuildArchive(ctx, fakeBinary(t, "binary two"), cache)
	if err != nil {
		t.Fatal(err)
	}
	if other == first {
		t.Fatalf("two binaries share the archive %s", other)
	}
	if ents, _ := os.ReadDir(cache); len(ents) != 2 {
		t.Fatalf("cache holds %d files, want 2 archives and no temporary file", len(ents))
	}
}

func TestBuildArchiveIsReproducible(t *testing.T) {
	bin := fakeBinary(t, "same binary")
	a, err := BuildArchive(context.Background(), bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := BuildArchive(context.Background(), bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ab, _ := os.ReadFile(a)
	bb, _ := os.ReadFile(b)
	if !bytes.Equal(ab, bb) {
		t.Fatal("two builds of one binary differ")
	}
}

func TestArchiveReadsBackAsDockerAndOCI(t *testing.T) {
	const content = "the binary"
	archive, err := BuildArchive(context.Background(), fakeBinary(t, content), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dockerImg, err := tarball.ImageFromPath(archive, nil)
	if err != nil {
		t.Fatalf("read as a docker archive: %v", err)
	}
	ociImg, annotations := readOCIArchive(t, archive)
	if annotations[annotationImageName] != TestAppImage || annotations[annotationRefName] != "latest" {
		t.Errorf("index annotations %v", annotations)
	}
	for kind, img := range map[string]v1.Image{"docker": dockerImg, "oci": ociImg} {
		t.Run(kind, func(t *testing.T) {
			if err := validate.Image(img); err != nil {
				t.Fatalf("invalid image: %v", err)
			}
			checkTestAppConfig(t, img)
			checkSingleFileLayer(t, img, content)
		})
	}
	// The docker reader makes up its own manifest; the config is the image.
	dc, _ := dockerImg.ConfigName()
	oc, _ := ociImg.ConfigName()
	if dc != oc {
		t.Errorf("docker view (config %s) and OCI view (config %s) are different images", dc, oc)
	}
}

func checkTestAppConfig(t *testing.T, img v1.Image) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if !slices.Equal(c.Entrypoint, []string{"/testapp"}) || !slices.Equal(c.Cmd, []string{"serve"}) {
		t.Errorf("entrypoint %q cmd %q", c.Entrypoint, c.Cmd)
	}
	for _, p := range []string{"8080/tcp", "9000/tcp", "9000/udp"} {
		if _, ok := c.ExposedPorts[p]; !ok {
			t.Errorf("port %s not exposed: %v", p, c.ExposedPorts)
		}
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH || !cf.Created.Time.Equal(epoch) {
		t.Errorf("platform %s/%s created %s", cf.OS, cf.Architecture, cf.Created)
	}
}

func checkSingleFileLayer(t *testing.T, img v1.Image, content string) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers, %v; want 1", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	hdr, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(tr)
	if hdr.Name != "testapp" || hdr.Mode != 0o755 || hdr.Uid != 0 || string(data) != content {
		t.Errorf("layer file %q mode %o uid %d content %q", hdr.Name, hdr.Mode, hdr.Uid, data)
	}
	if _, err := tr.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("layer holds more than /testapp: %v", err)
	}
}

// readOCIArchive unpacks the archive and reads it as an OCI image layout; it
// returns the one image and its index annotations.
func readOCIArchive(t *testing.T, archive string) (v1.Image, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	untar(t, archive, dir)
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("read as an OCI layout: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 {
		t.Fatalf("index: %v, %v", im, err)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img, im.Manifests[0].Annotations
}

func untar(t *testing.T, archive, dir string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(hdr.Name))
		if !strings.HasPrefix(p, dir) {
			t.Fatalf("entry %q escapes", hdr.Name)
		}
		if hdr.Typeflag == tar.TypeDir {
			os.MkdirAll(p, 0o755)
			continue
		}
		data, _ := io.ReadAll(tr)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRealTestAppArchive builds the real binary and times the archive build and
// a cache hit.
func TestRealTestAppArchive(t *testing.T) {
	bin := realTestApp(t)
	cache := t.TempDir()
	start := time.Now()
	archive, err := BuildArchive(context.Background(), bin, cache)
	if err != nil {
		t.Fatal(err)
	}
	built := time.Since(start)
	start = time.Now()
	if _, err := BuildArchive(context.Background(), bin, cache); err != nil {
		t.Fatal(err)
	}
	cached := time.Since(start)
	bfi, _ := os.Stat(bin)
	afi, _ := os.Stat(archive)
	t.Logf("binary %.1f MB, archive %.1f MB; build %s, cached %s", mb(bfi.Size()), mb(afi.Size()), built.Round(time.Millisecond), cached.Round(time.Microsecond))
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }

func TestRefTag(t *testing.T) {
	cases := map[string]string{
		"kinns.local/testapp:latest": "latest",
		"localhost:5000/app":         "latest",
		"localhost:5000/app:v2":      "v2",
	}
	for in, want := range cases {
		if got := refTag(in); got != want {
			t.Errorf("refTag(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFullReference(t *testing.T) {
	cases := map[string]string{
		"latest":                     "",
		"nginx:1.27":                 "docker.io/library/nginx:1.27",
		"kinns.local/testapp:latest": "kinns.local/testapp:latest",
		"quay.io/x/y":                "quay.io/x/y:latest",
		"Bad:Ref:x":                  "",
	}
	for in, want := range cases {
		if got := fullReference(in); got != want {
			t.Errorf("fullReference(%q) = %q, want %q", in, got, want)
		}
	}
}
