package images

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestAppImage is the name of kinns' built-in test image in every node's
// containerd namespace.
const TestAppImage = "kinns.local/testapp:latest"

// recipe names the way BuildArchive lays the image out; change it whenever that
// changes, so that archives cached by an older kinns are not reused.
const recipe = "r1"

// archivesBuilt counts archives written (not taken from the cache), for tests.
var archivesBuilt atomic.Int64

// epoch stamps every time in the image, so that one binary always gives the
// same bytes and the same image digest.
var epoch = time.Unix(0, 0).UTC()

// Annotations that name an image inside an OCI archive; containerd's importer
// reads the first, other tools the second.
const (
	annotationImageName = "io.containerd.image.name"
	annotationRefName   = "org.opencontainers.image.ref.name"
)

// BuildArchive writes the test image for the testapp binary at binaryPath as an
// image archive in cacheDir and returns its path. The archive is an OCI image
// layout that also carries Docker's manifest.json, so both containerd and
// `docker load` accept it. Its name derives from the binary's sha256: for a
// binary already built, it returns the cached archive without writing anything.
func BuildArchive(ctx context.Context, binaryPath, cacheDir string) (string, error) {
	bin, err := os.ReadFile(binaryPath)
	if err != nil {
		return "", fmt.Errorf("read testapp binary: %w", err)
	}
	path := filepath.Join(cacheDir, archiveName(bin))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	img, err := testAppImage(bin)
	if err != nil {
		return "", fmt.Errorf("build image %s from %s: %w", TestAppImage, binaryPath, err)
	}
	if err := writeFileAtomic(path, func(w io.Writer) error { return writeArchive(w, img, TestAppImage) }); err != nil {
		return "", fmt.Errorf("write image archive %s: %w", path, err)
	}
	archivesBuilt.Add(1)
	return path, nil
}

func archiveName(bin []byte) string {
	sum := sha256.Sum256(bin)
	return fmt.Sprintf("testapp-%s-%s-%s.tar", runtime.GOARCH, hex.EncodeToString(sum[:])[:24], recipe)
}

// testAppImage is one layer holding /testapp, run as `/testapp serve`.
func testAppImage(bin []byte) (v1.Image, error) {
	layerTar, err := singleFileTar("testapp", bin, 0o755)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
	if err != nil {
		return nil, fmt.Errorf("make layer: %w", err)
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	base, err = mutate.ConfigFile(base, testAppConfig())
	if err != nil {
		return nil, fmt.Errorf("set config: %w", err)
	}
	return mutate.Append(base, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "kinns: COPY testapp /testapp"},
	})
}

func testAppConfig() *v1.ConfigFile {
	return &v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Created:      v1.Time{Time: epoch},
		RootFS:       v1.RootFS{Type: "layers"},
		Config: v1.Config{
			Entrypoint: []string{"/testapp"},
			Cmd:        []string{"serve"},
			Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			WorkingDir: "/",
			ExposedPorts: map[string]struct{}{
				"8080/tcp": {}, "9000/tcp": {}, "9000/udp": {},
			},
			StopSignal: "SIGTERM",
		},
	}
}

// singleFileTar is a layer holding one root-owned file.
func singleFileTar(name string, data []byte, mode int64) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{Name: name, Mode: mode, Size: int64(len(data)), ModTime: epoch, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(data); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeArchive writes img, named name, as an OCI image layout tar with a
// Docker manifest.json beside index.json (as `docker save` does since 25.0).
func writeArchive(w io.Writer, img v1.Image, name string) error {
	aw := archiveWriter{tw: tar.NewWriter(w)}
	layout := fmt.Sprintf(`{"imageLayoutVersion":%q}`, "1.0.0")
	aw.file("oci-layout", []byte(layout))
	aw.dir("blobs/")
	aw.dir("blobs/sha256/")
	desc, docker, err := aw.image(img)
	if err != nil {
		return err
	}
	desc.Annotations = map[string]string{annotationImageName: name, annotationRefName: refTag(name)}
	index := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{desc}}
	docker.RepoTags = []string{name}
	aw.json("index.json", index)
	aw.json("manifest.json", []dockerManifest{docker})
	if aw.err != nil {
		return aw.err
	}
	return aw.tw.Close()
}

// dockerManifest is one entry of Docker's manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// archiveWriter writes tar entries with fixed metadata and keeps the first error.
type archiveWriter struct {
	tw  *tar.Writer
	err error
}

// image writes img's blobs and returns its manifest's descriptor and its
// Docker manifest.json entry.
func (aw *archiveWriter) image(img v1.Image) (v1.Descriptor, dockerManifest, error) {
	var docker dockerManifest
	layers, err := img.Layers()
	if err != nil {
		return v1.Descriptor{}, docker, fmt.Errorf("list layers: %w", err)
	}
	for _, l := range layers {
		path, err := aw.layer(l)
		if err != nil {
			return v1.Descriptor{}, docker, err
		}
		docker.Layers = append(docker.Layers, path)
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return v1.Descriptor{}, docker, fmt.Errorf("config: %w", err)
	}
	docker.Config = aw.blob(cfg)
	manifest, err := img.RawManifest()
	if err != nil {
		return v1.Descriptor{}, docker, fmt.Errorf("manifest: %w", err)
	}
	aw.blob(manifest)
	desc, err := partial.Descriptor(img)
	if err != nil {
		return v1.Descriptor{}, docker, fmt.Errorf("manifest descriptor: %w", err)
	}
	desc.Platform = &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	return *desc, docker, nil
}

func (aw *archiveWriter) layer(l v1.Layer) (string, error) {
	d, err := l.Digest()
	if err != nil {
		return "", fmt.Errorf("layer digest: %w", err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return "", fmt.Errorf("layer %s: %w", d, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return "", fmt.Errorf("read layer %s: %w", d, err)
	}
	return aw.blob(data), nil
}

// blob writes data under blobs/sha256/ and returns its path in the archive.
func (aw *archiveWriter) blob(data []byte) string {
	path := "blobs/sha256/" + sha256Hex(data)
	aw.file(path, data)
	return path
}

func (aw *archiveWriter) json(name string, v any) {
	b, err := json.Marshal(v)
	if err != nil && aw.err == nil {
		aw.err = fmt.Errorf("encode %s: %w", name, err)
	}
	aw.file(name, b)
}

func (aw *archiveWriter) dir(name string) {
	aw.header(&tar.Header{Name: name, Mode: 0o755, Typeflag: tar.TypeDir})
}

func (aw *archiveWriter) file(name string, data []byte) {
	aw.header(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
	if aw.err == nil {
		_, aw.err = aw.tw.Write(data)
	}
}

func (aw *archiveWriter) header(h *tar.Header) {
	if aw.err != nil {
		return
	}
	h.ModTime, h.Format = epoch, tar.FormatPAX
	aw.err = aw.tw.WriteHeader(h)
}

// refTag is the tag of a reference ("latest" of "kinns.local/testapp:latest"),
// which is what the OCI layout spec suggests for ref.name.
func refTag(name string) string {
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		return name[i+1:]
	}
	return "latest"
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// writeFileAtomic writes path through a temporary file in its folder, so that a
// reader, or a concurrent builder, never sees half an archive.
func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
