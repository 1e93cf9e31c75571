package specs

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	ggcrv1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"

	"github.com/kinns/kinns/harness/images"
)

var imagesLabel = Label("images")

// specRegistry is an in-process OCI registry on the host's loopback that
// counts requests and asks for basic auth under /v2/private/.
type specRegistry struct {
	srv  *httptest.Server
	host string // 127.0.0.1:PORT

	mu     sync.Mutex
	counts map[string]int // "METHOD /v2/…"
}

const (
	registryUser, registryPassword = "puller", "s3cret"
)

func startRegistry() *specRegistry {
	GinkgoHelper()
	r := &specRegistry{counts: map[string]int{}}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.counts[req.Method+" "+req.URL.Path]++
		r.mu.Unlock()
		if strings.HasPrefix(req.URL.Path, "/v2/private/") {
			if u, p, ok := req.BasicAuth(); !ok || u != registryUser || p != registryPassword {
				w.Header().Set("WWW-Authenticate", `Basic realm="kinns spec registry"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
		}
		inner.ServeHTTP(w, req)
	}))
	DeferCleanup(r.srv.Close)
	r.host = strings.TrimPrefix(r.srv.URL, "http://")
	return r
}

// count is how many requests matched method and a path suffix.
func (r *specRegistry) count(method, suffix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for k, v := range r.counts {
		if strings.HasPrefix(k, method+" ") && strings.HasSuffix(k, suffix) {
			n += v
		}
	}
	return n
}

// push writes img as repo:tag and returns its digest.
func (r *specRegistry) push(img ggcrv1.Image, repoTag string) string {
	GinkgoHelper()
	ref, err := name.NewTag(r.host+"/"+repoTag, name.Insecure)
	Expect(err).NotTo(HaveOccurred())
	Expect(remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: registryUser, Password: registryPassword}))).To(Succeed())
	d, err := img.Digest()
	Expect(err).NotTo(HaveOccurred())
	return d.String()
}

// testAppImage reads the lab's test image from the archive harness/images
// builds, as `lab load` would import it.
func testAppImage(ctx context.Context) ggcrv1.Image {
	GinkgoHelper()
	path := testArchive(ctx)
	tag, err := name.NewTag(images.TestAppImage)
	Expect(err).NotTo(HaveOccurred())
	img, err := tarball.ImageFromPath(path, &tag)
	Expect(err).NotTo(HaveOccurred())
	return img
}

// labelled is img with one more config label: another digest, same layers.
func labelled(img ggcrv1.Image, value string) ggcrv1.Image {
	GinkgoHelper()
	cfg, err := img.ConfigFile()
	Expect(err).NotTo(HaveOccurred())
	cfg = cfg.DeepCopy()
	if cfg.Config.Labels == nil {
		cfg.Config.Labels = map[string]string{}
	}
	cfg.Config.Labels["kinns.spec/version"] = value
	out, err := mutate.ConfigFile(img, cfg)
	Expect(err).NotTo(HaveOccurred())
	return out
}

// pullPod is a test pod of image with policy.
func pullPod(name, image string, policy corev1.PullPolicy) *corev1.Pod {
	p := testPod(name)
	p.Spec.Containers[0].Image, p.Spec.Containers[0].ImagePullPolicy = image, policy
	return p
}

// podEvents are "Reason: message" of the pod's events.
func podEvents(ctx context.Context, cs kubernetes.Interface, pod string) []string {
	list, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("involvedObject.name", pod).String()})
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range list.Items {
		out = append(out, e.Reason+": "+e.Message)
	}
	return out
}

func waiting(p *corev1.Pod) *corev1.ContainerStateWaiting {
	if len(p.Status.ContainerStatuses) == 0 {
		return nil
	}
	return p.Status.ContainerStatuses[0].State.Waiting
}

var _ = Describe("Image pulls", imagesLabel, Ordered, func() {
	var (
		cs     kubernetes.Interface
		reg    *specRegistry
		app    ggcrv1.Image
		before string
	)

	BeforeAll(func(ctx SpecContext) {
		lab := bootLab(ctx, 1)
		rc, err := lab.RESTConfig()
		Expect(err).NotTo(HaveOccurred())
		cs = kubernetes.NewForConfigOrDie(rc)
		before = rootNetworkSnapshot()
		reg = startRegistry()
		app = testAppImage(ctx)
		reg.push(app, "testapp:1")
		reg.push(app, "private/testapp:1")
		reg.push(app, "private/testapp:2")
	}, NodeTimeout(3*time.Minute))

	It("pulls from a registry on the host's loopback through the host's network, with Pulling and Pulled events", func(ctx SpecContext) {
		image := reg.host + "/testapp:1"
		create(ctx, cs, pullPod("loopback", image, corev1.PullIfNotPresent))
		waitFor(ctx, cs, "loopback", time.Minute, beReady)
		Eventually(func() []string { return podEvents(ctx, cs, "loopback") }).WithContext(ctx).WithTimeout(10 * time.Second).Should(ContainElements(
			fmt.Sprintf("Pulling: Pulling image %q", image),
			MatchRegexp(`^Pulled: Successfully pulled image %q in [0-9.]+m?s \([0-9.]+m?s including waiting\)\. Image size: [1-9][0-9]* bytes\.$`, image),
		))
	}, SpecTimeout(2*time.Minute))

	It("needs an imagePullSecret for a private registry, and honours the pod's and the ServiceAccount's", func(ctx SpecContext) {
		image := reg.host + "/private/testapp:1"
		create(ctx, cs, pullPod("nosecret", image, corev1.PullIfNotPresent))
		p := waitFor(ctx, cs, "nosecret", time.Minute, func(g Gomega, p *corev1.Pod) {
			w := waiting(p)
			g.Expect(w).NotTo(BeNil())
			g.Expect(w.Reason).To(BeElementOf("ErrImagePull", "ImagePullBackOff"))
		})
		Expect(waiting(p).Message).To(ContainSubstring("401 Unauthorized"))

		// As `kubectl create secret docker-registry` makes it.
		auth := base64.StdEncoding.EncodeToString([]byte(registryUser + ":" + registryPassword))
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "regcred"}, Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: fmt.Appendf(nil,
				`{"auths":{%q:{"username":%q,"password":%q,"auth":%q}}}`, reg.host, registryUser, registryPassword, auth)}}
		_, err := cs.CoreV1().Secrets("default").Create(ctx, secret, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) { cs.CoreV1().Secrets("default").Delete(ctx, "regcred", metav1.DeleteOptions{}) })
		withSecret := pullPod("withsecret", image, corev1.PullIfNotPresent)
		withSecret.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "regcred"}}
		create(ctx, cs, withSecret)
		waitFor(ctx, cs, "withsecret", time.Minute, beReady)

		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "puller"}, ImagePullSecrets: []corev1.LocalObjectReference{{Name: "regcred"}}}
		_, err = cs.CoreV1().ServiceAccounts("default").Create(ctx, sa, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) {
			cs.CoreV1().ServiceAccounts("default").Delete(ctx, "puller", metav1.DeleteOptions{})
		})
		viaSA := pullPod("viasa", reg.host+"/private/testapp:2", corev1.PullAlways)
		viaSA.Spec.ServiceAccountName = "puller"
		got := create(ctx, cs, viaSA)
		Expect(got.Spec.ImagePullSecrets).To(ConsistOf(corev1.LocalObjectReference{Name: "regcred"}), "copied by the ServiceAccount admission plugin")
		waitFor(ctx, cs, "viasa", time.Minute, beReady)
	}, SpecTimeout(3*time.Minute))

	It("pulls a tag again under Always when it moved", func(ctx SpecContext) {
		image := reg.host + "/moving:1"
		first := reg.push(labelled(app, "one"), "moving:1")
		create(ctx, cs, pullPod("always-1", image, corev1.PullAlways))
		p := waitFor(ctx, cs, "always-1", time.Minute, beReady)
		Expect(p.Status.ContainerStatuses[0].ImageID).To(HaveSuffix("@" + first))

		second := reg.push(labelled(app, "two"), "moving:1")
		Expect(second).NotTo(Equal(first))
		create(ctx, cs, pullPod("always-2", image, corev1.PullAlways))
		p = waitFor(ctx, cs, "always-2", time.Minute, beReady)
		Expect(p.Status.ContainerStatuses[0].ImageID).To(HaveSuffix("@" + second))
	}, SpecTimeout(2*time.Minute))

	It("backs off a missing image with a clear message, and runs it once pushed", func(ctx SpecContext) {
		image := reg.host + "/late:1"
		create(ctx, cs, pullPod("late", image, corev1.PullIfNotPresent))
		p := waitFor(ctx, cs, "late", time.Minute, func(g Gomega, p *corev1.Pod) {
			w := waiting(p)
			g.Expect(w).NotTo(BeNil())
			g.Expect(w.Reason).To(Equal("ImagePullBackOff"))
		})
		Expect(waiting(p).Message).To(And(ContainSubstring(fmt.Sprintf("Back-off pulling image %q", image)), ContainSubstring("not found")))
		Expect(podEvents(ctx, cs, "late")).To(ContainElements(
			fmt.Sprintf("BackOff: Back-off pulling image %q", image),
			HavePrefix(fmt.Sprintf("Failed: Failed to pull image %q: ", image)),
		))
		reg.push(app, "late:1")
		waitFor(ctx, cs, "late", time.Minute, beReady)
	}, SpecTimeout(3*time.Minute))

	It("pulls an image once for two pods that want it at once", func(ctx SpecContext) {
		image := reg.host + "/twin:1"
		reg.push(labelled(app, "twin"), "twin:1")
		resolved := func() int { return reg.count("HEAD", "/twin/manifests/1") + reg.count("GET", "/twin/manifests/1") }
		pushed := resolved() // the push looks the tag up too
		for _, n := range []string{"twin-a", "twin-b"} {
			create(ctx, cs, pullPod(n, image, corev1.PullIfNotPresent))
		}
		for _, n := range []string{"twin-a", "twin-b"} {
			waitFor(ctx, cs, n, time.Minute, beReady)
		}
		Expect(resolved()-pushed).To(Equal(1), "the tag resolved once")
		layers, err := app.Layers()
		Expect(err).NotTo(HaveOccurred())
		d, err := layers[0].Digest()
		Expect(err).NotTo(HaveOccurred())
		Expect(reg.count("GET", "/twin/blobs/"+d.String())).To(BeNumerically("<=", 1), "the layer fetched at most once (it may be stored already)")
	}, SpecTimeout(2*time.Minute))

	It("leaves the host's addresses, routes and firewall as they were", func() {
		Expect(rootNetworkSnapshot()).To(Equal(before))
	})
})
