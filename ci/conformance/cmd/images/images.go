package main

import (
	"fmt"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	imageutils "k8s.io/kubernetes/test/utils/image"
)

// host is what the images are made of: files of this machine, the
// libraries a dynamic executable loads (ldd) and busybox's applets.
type host interface {
	ReadFile(path string) ([]byte, error)
	Libraries(executable string) ([]string, error)
	Applets(busybox string) ([]string, error)
}

// Inputs names the files the images are built from.
type Inputs struct {
	Busybox string // a static busybox (Debian's busybox-static)
	// UpstreamBusybox is a static busybox built from upstream's source
	// (defconfig): the busybox image's own, whose sh behaves as upstream's
	// image's does.
	UpstreamBusybox string
	Tools           []string // dynamic executables of this machine for agnhost's image (curl, nc, dig, ...)
	Agnhost         string   // agnhost built from k8s.io/kubernetes/test/images/agnhost
	NNP             string   // nnp built from k8s.io/kubernetes/test/images/nonewprivs
	Sources         string   // the k8s.io/kubernetes module's directory (agnhost's certificates, kitten's pages)
	// SampleAPIServer (k8s.io/sample-apiserver) and Etcd (cmd/etcd) make the
	// Aggregator test's images; empty leaves those images out.
	SampleAPIServer, Etcd string
}

// layers are built once and shared by the images that use them.
type layers struct {
	base, shell, tools, agnhost, kitten, nautilus, nnp v1.Layer
	// sample and etcd are nil when their binaries are not given.
	sample, etcd v1.Layer
}

// image is one image the suite asks for, under each of its names.
type image struct {
	ids    []imageutils.ImageID
	layers []v1.Layer
	config v1.Config
}

const pathEnv = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// plan says which image stands for each image the conformance tests run.
// agnhost's is upstream's (alpine with curl, netcat, dig, iproute2, bash
// and agnhost) rebuilt from Debian's busybox-static and this machine's
// tools; nginx's stand-in is agnhost serving HTTP on port 80, and pause is
// agnhost's pause.
func plan(l layers) []image {
	agn := []v1.Layer{l.base, l.tools, l.agnhost}
	out := []image{
		{ids: []imageutils.ImageID{imageutils.Agnhost, imageutils.AgnhostPrev}, layers: agn,
			config: v1.Config{Entrypoint: []string{"/agnhost"}, Cmd: []string{"pause"}}},
		{ids: []imageutils.ImageID{imageutils.Nginx, imageutils.NginxNew}, layers: agn,
			config: v1.Config{Entrypoint: []string{"/agnhost", "netexec", "--http-port=80"}}},
		{ids: []imageutils.ImageID{imageutils.Pause}, layers: []v1.Layer{l.agnhost},
			config: v1.Config{Entrypoint: []string{"/agnhost", "pause"}}},
		{ids: []imageutils.ImageID{imageutils.BusyBox}, layers: []v1.Layer{l.base, l.shell},
			config: v1.Config{Cmd: []string{"sh"}}},
		{ids: []imageutils.ImageID{imageutils.GlibcDnsTesting}, layers: []v1.Layer{l.base, l.tools},
			config: v1.Config{Cmd: []string{"bash"}}},
		{ids: []imageutils.ImageID{imageutils.Kitten}, layers: append(agn[:3:3], l.kitten),
			config: v1.Config{Entrypoint: []string{"/agnhost"}, Cmd: []string{"test-webserver"}}},
		{ids: []imageutils.ImageID{imageutils.Nautilus}, layers: append(agn[:3:3], l.nautilus),
			config: v1.Config{Entrypoint: []string{"/agnhost"}, Cmd: []string{"test-webserver"}}},
		{ids: []imageutils.ImageID{imageutils.NonRoot}, layers: []v1.Layer{l.base},
			config: v1.Config{User: "1234", Cmd: []string{"sh"}}},
		{ids: []imageutils.ImageID{imageutils.Nonewprivs}, layers: []v1.Layer{l.base, l.nnp},
			config: v1.Config{Cmd: []string{"nnp"}}},
	}
	// Upstream's sample-apiserver image is the binary at / as its entrypoint
	// (k8s.io/sample-apiserver's artifacts/simple-image); the test runs
	// /usr/local/bin/etcd in the etcd image.
	if l.sample != nil {
		out = append(out, image{ids: []imageutils.ImageID{imageutils.APIServer}, layers: []v1.Layer{l.base, l.sample},
			config: v1.Config{Entrypoint: []string{"/kube-sample-apiserver"}}})
	}
	if l.etcd != nil {
		out = append(out, image{ids: []imageutils.ImageID{imageutils.Etcd}, layers: []v1.Layer{l.base, l.etcd},
			config: v1.Config{Cmd: []string{"/usr/local/bin/etcd"}}})
	}
	return out
}

// build makes every image of the plan, by the names the suite asks for
// (test/utils/image, which also reads KUBE_TEST_REPO_LIST as the suite does).
func build(h host, in Inputs) (map[name.Reference]v1.Image, error) {
	l, err := buildLayers(h, in)
	if err != nil {
		return nil, err
	}
	out := map[name.Reference]v1.Image{}
	for _, im := range plan(l) {
		img, err := assemble(im)
		if err != nil {
			return nil, err
		}
		for _, id := range im.ids {
			ref, err := name.ParseReference(imageutils.GetE2EImage(id))
			if err != nil {
				return nil, fmt.Errorf("image name %s: %w", imageutils.GetE2EImage(id), err)
			}
			out[ref] = img
		}
	}
	return out, nil
}

func assemble(im image) (v1.Image, error) {
	cfg := im.config
	cfg.Env = append([]string{pathEnv}, cfg.Env...)
	cfg.WorkingDir = "/"
	base, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: runtime.GOARCH, OS: "linux", Created: v1.Time{Time: epoch},
		RootFS: v1.RootFS{Type: "layers"}, Config: cfg,
	})
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	img, err := mutate.AppendLayers(base, im.layers...)
	if err != nil {
		return nil, fmt.Errorf("image layers: %w", err)
	}
	return img, nil
}

func buildLayers(h host, in Inputs) (layers, error) {
	var l layers
	type step struct {
		what string
		to   *v1.Layer
		make func(host, Inputs) (*layerFiles, error)
	}
	steps := []step{
		{"busybox", &l.base, baseLayer},
		{"shell", &l.shell, shellLayer},
		{"tools", &l.tools, toolsLayer},
		{"agnhost", &l.agnhost, agnhostLayer},
		{"kitten", &l.kitten, pagesLayer("kitten")},
		{"nautilus", &l.nautilus, pagesLayer("nautilus")},
		{"nnp", &l.nnp, nnpLayer},
	}
	if in.SampleAPIServer != "" {
		steps = append(steps, step{"sample-apiserver", &l.sample, binaryLayer(in.SampleAPIServer, "/kube-sample-apiserver")})
	}
	if in.Etcd != "" {
		steps = append(steps, step{"etcd", &l.etcd, binaryLayer(in.Etcd, "/usr/local/bin/etcd")})
	}
	for _, s := range steps {
		files, err := s.make(h, in)
		if err != nil {
			return l, fmt.Errorf("%s layer: %w", s.what, err)
		}
		if *s.to, err = files.layer(); err != nil {
			return l, fmt.Errorf("%s layer: %w", s.what, err)
		}
	}
	return l, nil
}

// baseLayer is a busybox root: the binary, a link for each applet, and
// the users and groups upstream's images define (agnhost's
// user-defined-in-image is asked for by the SupplementalGroups tests).
func baseLayer(h host, in Inputs) (*layerFiles, error) {
	l := newLayer()
	// Each applet where Debian puts it and in /bin, where upstream's busybox
	// image has them all (the sysctl test runs /bin/sysctl).
	err := l.busybox(h, in.Busybox, func(a string) []string { return []string{clean(a), path.Join("bin", path.Base(a))} })
	if err != nil {
		return nil, err
	}
	l.file("/etc/passwd", []byte("root:x:0:0:root:/root:/bin/sh\n"+
		"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"+
		"user-defined-in-image:x:1000:1000::/home/user-defined-in-image:/bin/sh\n"), 0o644)
	l.file("/etc/group", []byte("root:x:0:\nnogroup:x:65534:\n"+
		"user-defined-in-image:x:1000:\ngroup-defined-in-image:x:50000:user-defined-in-image\n"), 0o644)
	l.dir("/tmp", 0o1777)
	l.dir("/root", 0o700)
	l.dir("/home/user-defined-in-image", 0o755)
	for _, d := range []string{"/dev", "/proc", "/sys", "/etc/ssl", "/var/tmp", "/usr/local/bin"} {
		l.dir(d, 0o755)
	}
	return l, nil
}

// toolsLayer copies this machine's tools with the libraries they load
// into the image at the same paths, and links each from /bin too, over
// busybox's applet of the same name (netcat-openbsd's nc has the -v -t -u
// -z that the network tests use; busybox's has not).
func toolsLayer(h host, in Inputs) (*layerFiles, error) {
	l := newLayer()
	for _, t := range in.Tools {
		if err := l.executable(h, t); err != nil {
			return nil, err
		}
		if dir := path.Dir(t); dir != "/bin" {
			l.symlink(path.Join("/bin", path.Base(t)), t)
		}
	}
	// Debian's busybox-static is built with the standalone shell, whose
	// sh runs its own applets before any program on PATH: its nc, without
	// -v -t -u, instead of netcat's. Upstream's agnhost (alpine) has a
	// shell that runs the programs on PATH, so the images with tools get
	// bash as /bin/sh.
	for _, t := range in.Tools {
		if path.Base(t) == "bash" {
			l.symlink("/bin/sh", t)
		}
	}
	// glibc's tools (getent, curl) read how to look names up: /etc/hosts,
	// which the kubelet writes, then the cluster's DNS.
	l.file("/etc/nsswitch.conf", []byte("hosts: files dns\n"), 0o644)
	return l, nil
}

// shellLayer gives the busybox image upstream's busybox, built from
// source, over Debian's, with a link in /bin for each of its applets, as
// upstream's image has. Debian patches its busybox's sh to pass its children
// only the variables whose names are shell identifiers, so `sh -c env` in a
// container whose envFrom makes data-1 or 1-key (the ConfigMap and Secret
// envFrom tests) would not show them; upstream's sh passes every variable
// of its environment on. And the image's sh is then busybox's own, whose
// messages some tests read ("/bin/sh: can't create /file: Read-only file
// system").
func shellLayer(h host, in Inputs) (*layerFiles, error) {
	if in.UpstreamBusybox == "" {
		return nil, fmt.Errorf("-upstream-busybox is not set: the busybox image needs a busybox built from upstream's source (make conformance builds one)")
	}
	l := newLayer()
	if err := l.busybox(h, in.UpstreamBusybox, func(a string) []string { return []string{path.Join("bin", path.Base(a))} }); err != nil {
		return nil, err
	}
	return l, nil
}

// busybox adds the busybox at binary as /bin/busybox, and a link to it for
// each of its applets at each path that paths gives.
func (l *layerFiles) busybox(h host, binary string, paths func(applet string) []string) error {
	bb, err := h.ReadFile(binary)
	if err != nil {
		return err
	}
	l.file("/bin/busybox", bb, 0o755)
	applets, err := h.Applets(binary)
	if err != nil {
		return err
	}
	for _, a := range applets {
		for _, p := range paths(a) {
			if p != "bin/busybox" {
				l.symlink(p, "/bin/busybox")
			}
		}
	}
	return nil
}

// agnhostLayer is what upstream's agnhost image adds to its base.
func agnhostLayer(h host, in Inputs) (*layerFiles, error) {
	l := newLayer()
	b, err := h.ReadFile(in.Agnhost)
	if err != nil {
		return nil, err
	}
	l.file("/agnhost", b, 0o755)
	l.symlink("/agnhost-2", "agnhost")
	for _, f := range []string{"localhost.crt", "localhost.key"} {
		b, err := h.ReadFile(filepath.Join(in.Sources, "test/images/agnhost/porter", f))
		if err != nil {
			return nil, err
		}
		l.file("/"+f, b, 0o644)
	}
	l.dir("/uploads", 0o755)
	return l, nil
}

// alpineOSRelease is /etc/os-release of Alpine Linux 3.21, the base of
// upstream's agnhost image and so of kitten's and nautilus': the ImageVolume
// conformance test mounts kitten's image and reads that its etc/os-release
// names Alpine Linux. Our stand-ins are built on Debian's busybox, not on
// Alpine, so the file states what upstream's images carry.
const alpineOSRelease = `NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.21.3
PRETTY_NAME="Alpine Linux v3.21"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
`

// pagesLayer is what kitten's and nautilus' images add to agnhost's: the
// pages their test-webserver serves, and Alpine's /etc/os-release.
func pagesLayer(image string) func(host, Inputs) (*layerFiles, error) {
	return func(h host, in Inputs) (*layerFiles, error) {
		l := newLayer()
		l.file("/etc/os-release", []byte(alpineOSRelease), 0o644)
		for _, f := range []string{image + ".jpg", "data.json"} {
			b, err := h.ReadFile(filepath.Join(in.Sources, "test/images", image, "html", f))
			if err != nil {
				return nil, err
			}
			l.file("/"+f, b, 0o644)
		}
		return l, nil
	}
}

// executable copies this machine's executable t into the layer at the same
// path, with the libraries it loads.
func (l *layerFiles) executable(h host, t string) error {
	b, err := h.ReadFile(t)
	if err != nil {
		return err
	}
	l.file(t, b, 0o755)
	libs, err := h.Libraries(t)
	if err != nil {
		return fmt.Errorf("libraries of %s: %w", t, err)
	}
	for _, lib := range libs {
		b, err := h.ReadFile(lib)
		if err != nil {
			return err
		}
		l.file(lib, b, 0o755)
	}
	return nil
}

// binaryLayer is one static executable of this machine at path to.
func binaryLayer(from, to string) func(host, Inputs) (*layerFiles, error) {
	return func(h host, _ Inputs) (*layerFiles, error) {
		l := newLayer()
		b, err := h.ReadFile(from)
		if err != nil {
			return nil, err
		}
		l.file(to, b, 0o755)
		return l, nil
	}
}

// nnpLayer is nonewprivs' setuid program.
func nnpLayer(h host, in Inputs) (*layerFiles, error) {
	l := newLayer()
	b, err := h.ReadFile(in.NNP)
	if err != nil {
		return nil, err
	}
	l.file("/usr/local/bin/nnp", b, 0o4755)
	return l, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
