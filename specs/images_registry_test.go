package specs

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/kinns/kinns/controlplane/pki"
	"github.com/kinns/kinns/harness"
	"github.com/kinns/kinns/harness/images"
	"github.com/kinns/kinns/harness/registry"
)

// imagesRegistryLabel: the lab registry, lab images and image GC.
var imagesRegistryLabel = Label("images")

// freePort is a port of 127.0.0.1 nobody listens on right now.
func freePort() int {
	GinkgoHelper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// registryUp starts `lab registry up` on a free port with its files in a
// folder of the spec, and takes it down (its images too) after the spec.
func registryUp(ctx SpecContext, extra ...string) (port int, stateRoot string) {
	GinkgoHelper()
	port, stateRoot = freePort(), GinkgoT().TempDir()
	args := append([]string{"registry", "up", "--port", strconv.Itoa(port), "--state-root", stateRoot}, extra...)
	out := runLab(ctx, args...)
	Expect(string(out)).To(ContainSubstring(fmt.Sprintf("Registry on 127.0.0.1:%d is up", port)))
	DeferCleanup(func(ctx SpecContext) {
		runLab(ctx, "registry", "down", "--purge", "--port", strconv.Itoa(port), "--state-root", stateRoot)
	})
	return port, stateRoot
}

// testArchive is the test image's archive, as `lab up` builds it.
func testArchive(ctx context.Context) string {
	GinkgoHelper()
	p, err := images.BuildArchive(ctx, os.Getenv("KINNS_TESTAPP"), GinkgoT().TempDir())
	Expect(err).NotTo(HaveOccurred(), "KINNS_TESTAPP must name the testapp binary (ci/e2e.sh sets it)")
	return p
}

func getJSON(url string, v any) int {
	GinkgoHelper()
	resp, err := http.Get(url)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		Expect(json.NewDecoder(resp.Body).Decode(v)).To(Succeed())
	}
	return resp.StatusCode
}

var _ = Describe("lab registry", imagesRegistryLabel, func() {
	It("serves pushed images on 127.0.0.1, keeps them across a restart, and stops by its record", func(ctx SpecContext) {
		port, root := registryUp(ctx)
		p, base := strconv.Itoa(port), fmt.Sprintf("http://127.0.0.1:%d", port)
		By("up again is harmless")
		Expect(string(runLab(ctx, "registry", "up", "--port", p, "--state-root", root))).To(ContainSubstring("was already running"))

		By("pushing the test image archive, under its own name and another")
		archive := testArchive(ctx)
		Expect(string(runLab(ctx, "registry", "push", "--port", p, "--state-root", root, archive))).
			To(ContainSubstring(fmt.Sprintf("pushed localhost:%d/testapp:latest", port)))
		runLab(ctx, "registry", "push", "--port", p, "--state-root", root, archive, "testapp:1")

		By("any registry client pushes too (go-containerregistry, as crane does)")
		img, err := tarball.ImageFromPath(archive, nil)
		Expect(err).NotTo(HaveOccurred())
		ref, err := name.ParseReference(fmt.Sprintf("localhost:%d/other/app:2", port))
		Expect(err).NotTo(HaveOccurred())
		Expect(remote.Write(ref, img, remote.WithContext(ctx))).To(Succeed())

		var catalog struct{ Repositories []string }
		Expect(getJSON(base+"/v2/_catalog", &catalog)).To(Equal(http.StatusOK))
		Expect(catalog.Repositories).To(ConsistOf("testapp", "other/app"))
		var tags struct{ Tags []string }
		Expect(getJSON(base+"/v2/testapp/tags/list", &tags)).To(Equal(http.StatusOK))
		Expect(tags.Tags).To(ConsistOf("latest", "1"))

		By("status shows it; down stops its process and removes its record")
		var infos []registry.Info
		Expect(json.Unmarshal(runLab(ctx, "registry", "status", "-o", "json", "--state-root", root), &infos)).To(Succeed())
		Expect(infos).To(HaveLen(1))
		Expect(infos[0].Running).To(BeTrue())
		runLab(ctx, "registry", "down", "--port", p, "--state-root", root)
		Expect(infos[0].Process.Alive()).To(BeFalse())
		_, err = http.Get(base + "/v2/")
		Expect(err).To(HaveOccurred(), "nothing listens on %s after down", base)
		Expect(string(runLab(ctx, "registry", "status", "--state-root", root))).To(ContainSubstring("no registry"))

		By("up again: the pushed images are still there")
		runLab(ctx, "registry", "up", "--port", p, "--state-root", root)
		Expect(getJSON(base+"/v2/testapp/tags/list", &tags)).To(Equal(http.StatusOK))
		Expect(tags.Tags).To(ConsistOf("latest", "1"))
		_, err = remote.Image(ref, remote.WithContext(ctx))
		Expect(err).NotTo(HaveOccurred())
	}, SpecTimeout(time.Minute))

	It("answers bad requests with what to do", func(ctx SpecContext) {
		root := GinkgoT().TempDir()
		By("a port another program holds")
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		defer ln.Close()
		taken := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		Expect(runLabFails(ctx, "registry", "up", "--port", taken, "--state-root", root)).
			To(ContainSubstring("127.0.0.1:" + taken + " is taken by another program; pick another port with --port"))
		By("a push with no registry running")
		archive := testArchive(ctx)
		Expect(runLabFails(ctx, "registry", "push", "--port", taken, "--state-root", root, archive)).
			To(ContainSubstring("no registry is running on 127.0.0.1:" + taken + ": start one with `lab registry up --port " + taken + "`"))
		By("a missing archive")
		port, root := registryUp(ctx, "--user", "me:s3cret")
		Expect(runLabFails(ctx, "registry", "push", "--port", strconv.Itoa(port), "--state-root", root, "/no/such.tar")).
			To(ContainSubstring("image archive: stat /no/such.tar: no such file or directory"))
		By("a private registry asks for its user, and push uses it")
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/v2/", port))
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusUnauthorized))
		Expect(resp.Header.Get("WWW-Authenticate")).To(Equal(`Basic realm="kinns"`))
		runLab(ctx, "registry", "push", "--port", strconv.Itoa(port), "--state-root", root, archive, "private:1")
		Expect(runLabFails(ctx, "registry", "up", "--port", strconv.Itoa(port), "--state-root", root)).
			To(ContainSubstring("already runs on 127.0.0.1:%d", port))
	}, SpecTimeout(time.Minute))

	// Needs the kubelet's pulls through the host's network (issue 14, item 1).
	It("runs a Deployment from an image pushed to it", func(ctx SpecContext) {
		port, root := registryUp(ctx)
		runLab(ctx, "registry", "push", "--port", strconv.Itoa(port), "--state-root", root, testArchive(ctx), "testapp:1")
		lab := bootLab(ctx, 1)
		cs := clientAs(lab, pki.Admin)
		labels := map[string]string{"app": "r"}
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "r"},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{
						Name: "testapp", Image: fmt.Sprintf("localhost:%d/testapp:1", port)}}},
				},
			},
		}
		_, err := cs.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(g Gomega) {
			pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=r"})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(pods.Items).To(HaveLen(1))
			g.Expect(pods.Items[0].Status.Phase).To(Equal(corev1.PodRunning))
		}).WithContext(ctx).WithTimeout(45 * time.Second).WithPolling(250 * time.Millisecond).Should(Succeed())
	}, SpecTimeout(2*time.Minute))
})

var _ = Describe("lab images", imagesRegistryLabel, func() {
	It("lists the test image on every node, in use where a pod runs", func(ctx SpecContext) {
		lab := bootLab(ctx, 2)
		cs := clientAs(lab, pki.Admin)
		pod := testPod("img")
		pod.Spec.NodeName = "node-1"
		create(ctx, cs, pod)
		waitFor(ctx, cs, "img", 30*time.Second, func(g Gomega, p *corev1.Pod) { g.Expect(p.Status.Phase).To(Equal(corev1.PodRunning)) })

		var list []harness.NodeImages
		Expect(json.Unmarshal(runLab(ctx, "images", "--name", lab.Name(), "-o", "json"), &list)).To(Succeed())
		Expect(list).To(HaveLen(2))
		for _, n := range list {
			test := findImage(n.Images, testImage)
			Expect(test).NotTo(BeNil(), "%s has no %s", n.Node, testImage)
			Expect(test.Pinned).To(BeTrue())
			if n.Node == "node-1" {
				Expect(test.UsedBy).To(ConsistOf("default/img/app"))
			} else {
				Expect(test.UsedBy).To(BeEmpty())
			}
		}
		table := string(runLab(ctx, "images", "node-1", "--name", lab.Name()))
		Expect(table).To(MatchRegexp(`NODE\s+IMAGE\s+DIGEST\s+SIZE\s+IN USE`))
		Expect(table).To(MatchRegexp(`node-1\s+kinns.local/testapp:latest\s+[0-9a-f]{12}\s+[0-9.]+ MiB\s+by default/img/app \(pinned\)`))
		Expect(runLabFails(ctx, "images", "node-9", "--name", lab.Name())).To(ContainSubstring("no node \"node-9\""))
	}, SpecTimeout(2*time.Minute))
})

var _ = Describe("image garbage collection", imagesRegistryLabel, func() {
	It("removes a pulled image no pod uses over the high threshold, and keeps the one a pod runs and the loaded ones", func(ctx SpecContext) {
		port, root := registryUp(ctx)
		for _, tag := range []string{"keep", "drop"} {
			runLab(ctx, "registry", "push", "--port", strconv.Itoa(port), "--state-root", root,
				variantArchive("kinns.local/gc:"+tag), "gc:"+tag)
		}
		keep, drop := fmt.Sprintf("localhost:%d/gc:keep", port), fmt.Sprintf("localhost:%d/gc:drop", port)

		// Thresholds no disk meets: every GC period removes whatever may go.
		lab, err := harness.Up(ctx, harness.Config{Name: uniqueName("gc"), Nodes: 1, APIServers: 1, LabBinary: labBinary,
			FailureLogs: failureLogs(), ImageGCHighPercent: ptr.To[int32](1), ImageGCLowPercent: ptr.To[int32](0)})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) { Expect(lab.Down(ctx)).To(Succeed()) })
		DeferCleanup(reportOnFailure, lab)
		cs := clientAs(lab, pki.Admin)

		By("a loaded image, and two pulled ones each run by a pod, one of which is deleted")
		loaded := "kinns.local/gc-loaded:1"
		_, err = lab.Load(ctx, variantArchive(loaded))
		Expect(err).NotTo(HaveOccurred())
		for name, image := range map[string]string{"keeper": keep, "dropper": drop} {
			pod := testPod(name)
			pod.Spec.Containers[0].Image, pod.Spec.Containers[0].ImagePullPolicy = image, corev1.PullIfNotPresent
			create(ctx, cs, pod)
			waitFor(ctx, cs, name, 45*time.Second, func(g Gomega, p *corev1.Pod) { g.Expect(p.Status.Phase).To(Equal(corev1.PodRunning)) })
		}
		Expect(cs.CoreV1().Pods("default").Delete(ctx, "dropper", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})).To(Succeed())

		By("the unused pulled image goes within a GC period past its minimum age; the pinned ones stay")
		Eventually(func(g Gomega) {
			list, err := lab.Images(ctx, "node-1")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(findImage(list[0].Images, drop)).To(BeNil())
			g.Expect(findImage(list[0].Images, keep)).NotTo(BeNil())
			for _, pinned := range []string{testImage, loaded} {
				img := findImage(list[0].Images, pinned)
				g.Expect(img).NotTo(BeNil(), "loaded images are pinned: %s stays", pinned)
				g.Expect(img.Pinned).To(BeTrue())
			}
		}).WithContext(ctx).WithTimeout(60 * time.Second).WithPolling(time.Second).Should(Succeed())

		By("the pod keeps running, and the Node says the disk could not be freed enough")
		p, err := cs.CoreV1().Pods("default").Get(ctx, "keeper", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(p.Status.Phase).To(Equal(corev1.PodRunning))
		Expect(p.Status.ContainerStatuses[0].RestartCount).To(BeZero())
		Eventually(func(g Gomega) {
			evs, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "reason=FreeDiskSpaceFailed,involvedObject.kind=Node"})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(evs.Items).NotTo(BeEmpty())
			g.Expect(evs.Items[0].Message).To(ContainSubstring("Insufficient free disk space on the node's image filesystem"))
		}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())
	}, SpecTimeout(3*time.Minute))
})

func findImage(list []images.Listed, name string) *images.Listed {
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}

// variantArchive writes the test image under ref as a docker-save archive,
// with a label of its own so its digest differs from the test image's.
func variantArchive(ref string) string {
	GinkgoHelper()
	img := labelled(testAppImage(context.Background()), ref)
	tag, err := name.NewTag(ref)
	Expect(err).NotTo(HaveOccurred())
	p := filepath.Join(GinkgoT().TempDir(), "variant.tar")
	Expect(tarball.WriteToFile(p, tag, img)).To(Succeed())
	return p
}
