package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// epoch dates every file and image, so that the same inputs make the same
// image digests run after run.
var epoch = time.Unix(0, 0).UTC()

// tree is the content of one image layer: absolute paths to entries.
// Parents are made as directories when the layer is written.
type tree map[string]*tar.Header

// contents holds the bytes of tree's regular files, by path.
type layerFiles struct {
	tree tree
	data map[string][]byte
}

func newLayer() *layerFiles {
	return &layerFiles{tree: tree{}, data: map[string][]byte{}}
}

func (l *layerFiles) dir(p string, mode int64) {
	l.tree[clean(p)] = &tar.Header{Typeflag: tar.TypeDir, Mode: mode}
}

func (l *layerFiles) file(p string, data []byte, mode int64) {
	p = clean(p)
	l.tree[p] = &tar.Header{Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(data))}
	l.data[p] = data
}

func (l *layerFiles) symlink(p, target string) {
	p = clean(p)
	l.tree[p] = &tar.Header{Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}
	delete(l.data, p)
}

func clean(p string) string { return strings.TrimPrefix(path.Clean("/"+p), "/") }

// tar renders the layer: parents first, paths sorted, every entry owned by
// root and dated at the epoch.
func (l *layerFiles) tar() ([]byte, error) {
	all := map[string]*tar.Header{}
	for p, h := range l.tree {
		all[p] = h
		for d := path.Dir(p); d != "." && d != "/"; d = path.Dir(d) {
			if _, ok := all[d]; !ok {
				all[d] = &tar.Header{Typeflag: tar.TypeDir, Mode: 0o755}
			}
		}
	}
	paths := make([]string, 0, len(all))
	for p := range all {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range paths {
		h := *all[p]
		h.Name, h.ModTime, h.Format = p, epoch, tar.FormatPAX
		if h.Typeflag == tar.TypeDir {
			h.Name += "/"
		}
		if err := tw.WriteHeader(&h); err != nil {
			return nil, fmt.Errorf("tar header %s: %w", p, err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(l.data[p]); err != nil {
				return nil, fmt.Errorf("tar %s: %w", p, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (l *layerFiles) layer() (v1.Layer, error) {
	b, err := l.tar()
	if err != nil {
		return nil, err
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithCompressedCaching)
}

// parseLDD returns the files ldd says a dynamic executable loads: the
// libraries it resolved and the program interpreter. The kernel's vDSO
// has no file and is left out; a library ldd did not find is an error, as
// the image would not run the executable.
func parseLDD(out string) ([]string, error) {
	var libs []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.Contains(line, "statically linked") {
			continue
		}
		if name, target, ok := strings.Cut(line, "=>"); ok {
			f := strings.Fields(target)
			if len(f) == 0 || f[0] == "not" {
				return nil, fmt.Errorf("ldd found no %s", strings.TrimSpace(name))
			}
			if strings.HasPrefix(f[0], "/") {
				libs = append(libs, f[0])
			}
			continue
		}
		if f := strings.Fields(line); strings.HasPrefix(f[0], "/") {
			libs = append(libs, f[0])
		}
	}
	return libs, sc.Err()
}
