package main

import (
	"archive/tar"
	"io"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	imageutils "k8s.io/kubernetes/test/utils/image"
)

func TestParseLDD(t *testing.T) {
	out := "\tlinux-vdso.so.1 (0x00007ffd)\n" +
		"\tlibcurl.so.4 => /lib/x86_64-linux-gnu/libcurl.so.4 (0x00007f)\n" +
		"\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n" +
		"\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n"
	got, err := parseLDD(out)
	if err != nil {
		t.Fatal(err)
	}
	want := "/lib/x86_64-linux-gnu/libcurl.so.4 /lib/x86_64-linux-gnu/libc.so.6 /lib64/ld-linux-x86-64.so.2"
	if strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}
	if _, err := parseLDD("\tlibgone.so.1 => not found\n"); err == nil {
		t.Error("a library ldd did not find is no error")
	}
}

// fakeHost serves every file as its own name, and two applets.
type fakeHost struct{}

func (fakeHost) ReadFile(p string) ([]byte, error) { return []byte("content of " + p), nil }
func (fakeHost) Libraries(e string) ([]string, error) {
	return []string{"/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"}, nil
}
func (fakeHost) Applets(string) ([]string, error) {
	return []string{"/bin/sh", "/usr/bin/nc", "/sbin/sysctl", "/bin/busybox"}, nil
}

func TestImagesHaveTheSuitesNamesAndFiles(t *testing.T) {
	imgs, err := build(fakeHost{}, Inputs{Busybox: "/bin/busybox", UpstreamBusybox: "/out/busybox", Tools: []string{"/usr/bin/nc", "/usr/bin/bash"},
		Agnhost: "/out/agnhost", NNP: "/out/nnp", Sources: "/k8s"})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]map[string]string{}
	for ref, img := range imgs {
		files[ref.Name()] = flatten(t, img)
	}
	agnhost := files[imageutils.GetE2EImage(imageutils.Agnhost)]
	if agnhost == nil {
		t.Fatalf("no %s among %d images", imageutils.GetE2EImage(imageutils.Agnhost), len(imgs))
	}
	for p, want := range map[string]string{
		"agnhost":                    "content of /out/agnhost",
		"agnhost-2":                  "-> agnhost",
		"bin/sh":                     "-> /usr/bin/bash",       // runs nc from PATH, not busybox's applet
		"usr/bin/nc":                 "content of /usr/bin/nc", // the tool, over busybox's applet
		"bin/nc":                     "-> /usr/bin/nc",
		"lib64/ld-linux-x86-64.so.2": "content of /lib64/ld-linux-x86-64.so.2",
		"localhost.crt":              "content of /k8s/test/images/agnhost/porter/localhost.crt",
	} {
		if agnhost[p] != want {
			t.Errorf("agnhost's %s is %q, want %q", p, agnhost[p], want)
		}
	}
	busybox := files[imageutils.GetE2EImage(imageutils.BusyBox)]
	// Upstream's busybox, with its own sh: no bash.
	if busybox["bin/busybox"] != "content of /out/busybox" || busybox["usr/bin/nc"] != "-> /bin/busybox" ||
		busybox["bin/sh"] != "-> /bin/busybox" || busybox["usr/bin/bash"] != "" ||
		busybox["sbin/sysctl"] != "-> /bin/busybox" || busybox["bin/sysctl"] != "-> /bin/busybox" || busybox["agnhost"] != "" {
		t.Errorf("busybox image: busybox %q, nc %q, sh %q, bash %q, agnhost %q",
			busybox["bin/busybox"], busybox["usr/bin/nc"], busybox["bin/sh"], busybox["usr/bin/bash"], busybox["agnhost"])
	}
	// The other images keep Debian's.
	if agnhost["bin/busybox"] != "content of /bin/busybox" {
		t.Errorf("agnhost's busybox is %q, want Debian's", agnhost["bin/busybox"])
	}
	// What the ImageVolume test reads in kitten's image.
	kitten := files[imageutils.GetE2EImage(imageutils.Kitten)]
	if !strings.Contains(kitten["data.json"], "kitten.jpg") && kitten["data.json"] != "content of /k8s/test/images/kitten/html/data.json" {
		t.Errorf("kitten's data.json is %q", kitten["data.json"])
	}
	if !strings.Contains(kitten["etc/os-release"], `NAME="Alpine Linux"`) {
		t.Errorf("kitten's etc/os-release is %q", kitten["etc/os-release"])
	}
	if _, ok := files[imageutils.GetPauseImageName()]; !ok {
		t.Errorf("no pause image %s", imageutils.GetPauseImageName())
	}
}

// flatten reads an image's filesystem: path -> content or "-> target".
func flatten(t *testing.T, img v1.Image) map[string]string {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	files := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		switch h.Typeflag {
		case tar.TypeSymlink:
			files[h.Name] = "-> " + h.Linkname
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = string(b)
		}
	}
}
