package registry

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Annotations that name an image in an OCI archive's index.json:
// containerd's (and docker save's since 25.0) and the OCI spec's.
const (
	annotationImageName = "io.containerd.image.name"
	annotationRefName   = "org.opencontainers.image.ref.name"
)

// ArchiveImage is one image of an archive: an image or a whole index
// (several platforms), and the name the archive gives it ("" if none).
type ArchiveImage struct {
	Name  string
	Image v1.Image
	Index v1.ImageIndex
}

// Archive is an image archive opened for reading; Close removes what
// opening it unpacked.
type Archive struct {
	Images []ArchiveImage
	dir    string
}

// Close removes the unpacked OCI layout, if any.
func (a *Archive) Close() error {
	if a.dir == "" {
		return nil
	}
	return os.RemoveAll(a.dir)
}

// OpenArchive reads an image archive as `lab load` takes it: an OCI image
// layout in a tar (index.json; names from its annotations) or a `docker
// save` archive (manifest.json; names from RepoTags). An archive that has
// both (docker save since 25.0, kinns' own) is read as OCI unless only
// manifest.json names its images. tmp is where an OCI layout is unpacked
// ("" for the system's temporary folder).
func OpenArchive(archivePath, tmp string) (*Archive, error) {
	entries, err := tarEntries(archivePath)
	if err != nil {
		return nil, err
	}
	switch {
	case entries["index.json"]:
		a, err := openOCI(archivePath, tmp)
		if err != nil || !entries["manifest.json"] || a.named() {
			return a, err
		}
		a.Close()
		return openDocker(archivePath)
	case entries["manifest.json"]:
		return openDocker(archivePath)
	}
	return nil, fmt.Errorf("%s is not an image archive: it has neither index.json (OCI) nor manifest.json (docker save)", archivePath)
}

func (a *Archive) named() bool {
	for _, img := range a.Images {
		if img.Name != "" {
			return true
		}
	}
	return false
}

// tarEntries lists the top-level files of the tar at p.
func tarEntries(p string) (map[string]bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("open image archive: %w", err)
	}
	defer f.Close()
	out := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read image archive %s (a tar is expected): %w", p, err)
		}
		out[path.Clean(h.Name)] = true
	}
}

func openOCI(archivePath, tmp string) (*Archive, error) {
	dir, err := os.MkdirTemp(tmp, "kinns-push-")
	if err != nil {
		return nil, fmt.Errorf("unpack %s: %w", archivePath, err)
	}
	a := &Archive{dir: dir}
	if err := untarLayout(archivePath, dir); err != nil {
		a.Close()
		return nil, err
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("read %s as an OCI layout: %w", archivePath, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("read index.json of %s: %w", archivePath, err)
	}
	for _, d := range im.Manifests {
		img, err := ociImage(idx, d)
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("%s: %w", archivePath, err)
		}
		a.Images = append(a.Images, img)
	}
	return a, nil
}

func ociImage(idx v1.ImageIndex, d v1.Descriptor) (ArchiveImage, error) {
	out := ArchiveImage{Name: ociName(d.Annotations)}
	var err error
	switch {
	case d.MediaType.IsIndex():
		out.Index, err = idx.ImageIndex(d.Digest)
	case d.MediaType.IsImage():
		out.Image, err = idx.Image(d.Digest)
	default:
		err = fmt.Errorf("index entry %s is a %s, neither an image nor an index", d.Digest, d.MediaType)
	}
	return out, err
}

// ociName is the image's name: containerd's annotation, else ref.name if it
// is a full reference (a bare tag such as "latest" names nothing).
func ociName(ann map[string]string) string {
	if n := ann[annotationImageName]; n != "" {
		return n
	}
	if n := ann[annotationRefName]; strings.ContainsAny(n, "/:@") {
		return n
	}
	return ""
}

// untarLayout unpacks the files of an OCI layout (oci-layout, index.json,
// blobs/) from the archive into dir, refusing paths that leave it.
func untarLayout(archivePath, dir string) error {
	f, err := os.Open(archivePath)
	if err != nil {
		return fmt.Errorf("open image archive: %w", err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read image archive %s: %w", archivePath, err)
		}
		clean := path.Clean(h.Name)
		if h.Typeflag != tar.TypeReg || !(clean == "index.json" || clean == "oci-layout" || strings.HasPrefix(clean, "blobs/")) {
			continue
		}
		if err := writeEntry(tr, filepath.Join(dir, filepath.FromSlash(clean))); err != nil {
			return fmt.Errorf("unpack %s of %s: %w", clean, archivePath, err)
		}
	}
}

func writeEntry(r io.Reader, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func openDocker(archivePath string) (*Archive, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(archivePath) }
	m, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, fmt.Errorf("read manifest.json of %s: %w", archivePath, err)
	}
	a := &Archive{}
	for _, d := range m {
		if len(d.RepoTags) == 0 {
			if len(m) > 1 {
				return nil, fmt.Errorf("%s holds %d images, one of which has no name (RepoTags): it cannot be picked out", archivePath, len(m))
			}
			img, err := tarball.Image(opener, nil)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", archivePath, err)
			}
			a.Images = append(a.Images, ArchiveImage{Image: img})
		}
		for _, t := range d.RepoTags {
			tag, err := name.NewTag(t)
			if err != nil {
				return nil, fmt.Errorf("%s names an image %q: %w", archivePath, t, err)
			}
			img, err := tarball.Image(opener, &tag)
			if err != nil {
				return nil, fmt.Errorf("read %s from %s: %w", t, archivePath, err)
			}
			a.Images = append(a.Images, ArchiveImage{Name: t, Image: img})
		}
	}
	return a, nil
}
