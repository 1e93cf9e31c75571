package specs

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"runtime"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// writeUserImage writes a `docker save` archive of ref, as a user's own
// image would come: the test app under another name, at /app/server. Without
// platform, its config names no os and architecture, as some tools leave it.
func writeUserImage(path, ref string, platform bool) {
	GinkgoHelper()
	bin, err := os.ReadFile(os.Getenv("KINNS_TESTAPP"))
	Expect(err).NotTo(HaveOccurred(), "KINNS_TESTAPP must name the testapp binary (ci/e2e.sh sets it)")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	Expect(tw.WriteHeader(&tar.Header{Name: "app/", Typeflag: tar.TypeDir, Mode: 0o755})).To(Succeed())
	Expect(tw.WriteHeader(&tar.Header{Name: "app/server", Mode: 0o755, Size: int64(len(bin))})).To(Succeed())
	_, err = tw.Write(bin)
	Expect(err).NotTo(HaveOccurred())
	Expect(tw.Close()).To(Succeed())
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	Expect(err).NotTo(HaveOccurred())
	img, err := mutate.AppendLayers(empty.Image, layer)
	Expect(err).NotTo(HaveOccurred())
	cfg, err := img.ConfigFile()
	Expect(err).NotTo(HaveOccurred())
	if platform {
		cfg.OS, cfg.Architecture = "linux", runtime.GOARCH // as docker save writes them
	}
	cfg.Config = v1.Config{Entrypoint: []string{"/app/server"}, Cmd: []string{"serve"}}
	img, err = mutate.ConfigFile(img, cfg)
	Expect(err).NotTo(HaveOccurred())
	tag, err := name.NewTag(ref)
	Expect(err).NotTo(HaveOccurred())
	Expect(tarball.WriteToFile(path, tag, img)).To(Succeed())
}
