package specs

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubernetes/test/utils/hermeticpodcertificatesigner"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/kinns/kinns/controlplane/pki"
	"github.com/kinns/kinns/harness"
)

// What the upstream conformance suite checks of a kubelet's pods (issue
// 16): volume file modes and updates, termination messages,
// activeDeadlineSeconds, envFrom, init containers, subPathExpr,
// ClusterTrustBundle and podCertificate projections.
var _ = Describe("Kubelet behaviours of the conformance suite", Kubelet, Ordered, func() {
	var (
		lab *harness.Lab
		cs  kubernetes.Interface
	)
	BeforeAll(func(ctx SpecContext) {
		lab = bootLab(ctx, 1)
		cs = clientAs(lab, pki.Admin)
	}, NodeTimeout(2*time.Minute))

	It("gives volume files their defaultMode, items' modes and the fsGroup, and shows updates in a running pod", func(ctx SpecContext) {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "modes"}, Data: map[string]string{"a": "one", "b": "two"}}
		_, err := cs.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) { cs.CoreV1().ConfigMaps("default").Delete(ctx, "modes", metav1.DeleteOptions{}) })
		ref := corev1.LocalObjectReference{Name: "modes"}
		p := withSecurity("modes", &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1000), FSGroup: ptr.To[int64](2000)}, nil)
		p.Spec.Volumes = []corev1.Volume{
			{Name: "all", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: ref, DefaultMode: ptr.To[int32](0o400)}}},
			{Name: "items", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: ref,
				Items: []corev1.KeyToPath{{Key: "b", Path: "path/to/b", Mode: ptr.To[int32](0o600)}}}}},
			{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
				Items: []corev1.DownwardAPIVolumeFile{{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}}}}}},
		}
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "all", MountPath: "/all"}, {Name: "items", MountPath: "/items"}, {Name: "info", MountPath: "/info"}}
		create(ctx, cs, p)
		waitFor(ctx, cs, "modes", time.Minute, beReady)

		By("defaultMode 0400 and item mode 0600, each with fsGroup's group read, in a setgid ..data")
		out, err := execIn(ctx, lab, cs, "modes", "/testapp", "stat", "/all/..data/a", "/items/..data/path/to/b", "/all/..data/")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal("/all/..data/a -r--r----- uid=0 gid=2000\n/items/..data/path/to/b -rw-r----- uid=0 gid=2000\n" +
			"/all/..data/ drwxr-sr-x uid=0 gid=2000\n"))
		out, err = execIn(ctx, lab, cs, "modes", "/testapp", "cat", "/all/a")
		Expect(err).NotTo(HaveOccurred(), "user 1000 reads a 0440 file of group 2000")
		Expect(out).To(Equal("one"))

		By("a ConfigMap update and a new label reach the running pod's files")
		cm.Data["a"] = "changed"
		_, err = cs.CoreV1().ConfigMaps("default").Update(ctx, cm, metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())
		_, err = cs.CoreV1().Pods("default").Patch(ctx, "modes", types.MergePatchType, []byte(`{"metadata":{"labels":{"tier":"new"}}}`), metav1.PatchOptions{})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(g Gomega) {
			out, err := execIn(ctx, lab, cs, "modes", "/testapp", "cat", "/all/a", "/info/labels")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(out).To(Equal("changed" + "app=\"modes\"\ntier=\"new\"\n"))
		}).WithContext(ctx).WithTimeout(30 * time.Second).WithPolling(time.Second).Should(Succeed())
	}, SpecTimeout(2*time.Minute))

	It("reads a container's termination log into its terminated state, or its log's tail when it failed under FallbackToLogsOnError", func(ctx SpecContext) {
		p := testPod("ends")
		p.Spec.RestartPolicy = corev1.RestartPolicyNever
		p.Spec.Containers[0].Command = []string{"/testapp", "write", "/dev/termination-log", "DONE"}
		p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsUser: ptr.To[int64](1000)}
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{
			Name: "fails", Image: testImage, Command: []string{"/testapp", "cat", "/missing"},
			TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		})
		create(ctx, cs, p)
		pod := waitFor(ctx, cs, "ends", time.Minute, func(g Gomega, p *corev1.Pod) {
			g.Expect(p.Status.Phase).To(Equal(corev1.PodFailed))
		})
		msgs := map[string]string{}
		for _, st := range pod.Status.ContainerStatuses {
			Expect(st.State.Terminated).NotTo(BeNil())
			msgs[st.Name] = st.State.Terminated.Message
		}
		Expect(msgs).To(Equal(map[string]string{"app": "DONE", "fails": "testapp: open /missing: no such file or directory\n"}))
	}, SpecTimeout(90*time.Second))

	It("fails a pod that runs past its activeDeadlineSeconds with DeadlineExceeded", func(ctx SpecContext) {
		p := testPod("deadline")
		p.Spec.ActiveDeadlineSeconds = ptr.To[int64](300)
		create(ctx, cs, p)
		waitFor(ctx, cs, "deadline", time.Minute, beReady)
		_, err := cs.CoreV1().Pods("default").Patch(ctx, "deadline", types.MergePatchType, []byte(`{"spec":{"activeDeadlineSeconds":5}}`), metav1.PatchOptions{})
		Expect(err).NotTo(HaveOccurred())
		pod := waitFor(ctx, cs, "deadline", 30*time.Second, func(g Gomega, p *corev1.Pod) {
			g.Expect(p.Status.Phase).To(Equal(corev1.PodFailed))
		})
		Expect([]string{pod.Status.Reason, pod.Status.Message}).To(Equal([]string{"DeadlineExceeded", "Pod was active on the node longer than the specified deadline"}))
		Expect(pod.Status.ContainerStatuses[0].State.Terminated).NotTo(BeNil())
		Eventually(func() []string { return podEvents(ctx, cs, "deadline") }).WithContext(ctx).WithTimeout(10 * time.Second).
			Should(ContainElement("DeadlineExceeded: Pod was active on the node longer than the specified deadline"))
	}, SpecTimeout(2*time.Minute))

	It("writes a pod's /etc/hosts as upstream (hostAliases included), the node's file for hostNetwork, none over a container's own", func(ctx SpecContext) {
		p := testPod("hosts")
		p.Spec.HostAliases = []corev1.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"foo.local", "bar.local"}}}
		own := filepath.Join(GinkgoT().TempDir(), "hosts")
		Expect(os.WriteFile(own, []byte("mine\n"), 0o644)).To(Succeed())
		p.Spec.Volumes = []corev1.Volume{{Name: "own", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: own}}}}
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "own", Image: testImage, Args: []string{"--http-port", "8081", "--echo-port", "9001"},
			VolumeMounts: []corev1.VolumeMount{{Name: "own", MountPath: "/etc/hosts"}}})
		hn := testPod("hostnet", "--http-port", "18080", "--echo-port", "19000")
		hn.Spec.HostNetwork = true
		create(ctx, cs, p)
		create(ctx, cs, hn)
		pod := waitFor(ctx, cs, "hosts", time.Minute, beReady)
		waitFor(ctx, cs, "hostnet", time.Minute, beReady)

		out, err := execIn(ctx, lab, cs, "hosts", "/testapp", "cat", "/etc/hosts")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(HavePrefix("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n"))
		Expect(out).To(HaveSuffix(pod.Status.PodIP + "\thosts\n\n# Entries added by HostAliases.\n10.1.2.3\tfoo.local\tbar.local\n"))
		out, err = execInContainer(ctx, lab, cs, "hosts", "own", "/testapp", "cat", "/etc/hosts")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal("mine\n"), "the container's own volume, not the kubelet's file")
		node, err := os.ReadFile("/etc/hosts")
		Expect(err).NotTo(HaveOccurred())
		out, err = execIn(ctx, lab, cs, "hostnet", "/testapp", "cat", "/etc/hosts")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal("# Kubernetes-managed hosts file (host network).\n" + string(node)))
	}, SpecTimeout(2*time.Minute))

	It("runs postStart and preStop hooks, and restarts a container whose postStart hook failed", func(ctx SpecContext) {
		dir := GinkgoT().TempDir()
		p := testPod("hooks")
		p.Spec.Volumes = []corev1.Volume{{Name: "hook", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir}}}}
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "hook", MountPath: "/hook"}}
		p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{
			PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"/testapp", "write", "/hook/poststart", "started"}}},
			PreStop:   &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"/testapp", "write", "/hook/prestop", "stopping"}}},
		}
		create(ctx, cs, p)
		waitFor(ctx, cs, "hooks", time.Minute, beReady)
		Expect(os.ReadFile(filepath.Join(dir, "poststart"))).To(Equal([]byte("started")))
		Expect(cs.CoreV1().Pods("default").Delete(ctx, "hooks", metav1.DeleteOptions{})).To(Succeed())
		Eventually(func() ([]byte, error) { return os.ReadFile(filepath.Join(dir, "prestop")) }).WithContext(ctx).WithTimeout(30 * time.Second).
			Should(Equal([]byte("stopping")))

		bad := testPod("badhook")
		bad.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{
			HTTPGet: &corev1.HTTPGetAction{Path: "/nothing", Port: intstr.FromInt32(1)}}}
		create(ctx, cs, bad)
		waitFor(ctx, cs, "badhook", time.Minute, func(g Gomega, p *corev1.Pod) {
			g.Expect(p.Status.ContainerStatuses).To(HaveLen(1))
			g.Expect(p.Status.ContainerStatuses[0].RestartCount).To(BeNumerically(">=", 1))
		})
		Expect(podEvents(ctx, cs, "badhook")).To(ContainElement(HavePrefix("FailedPostStartHook: HTTP lifecycle hook")))
	}, SpecTimeout(2*time.Minute))

	It("passes envFrom keys with any prefix, from ConfigMaps and Secrets", func(ctx SpecContext) {
		data := map[string]string{"data-1": "value-1", "data-2": "value-2"}
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "envfrom"}, Data: data}
		_, err := cs.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) {
			cs.CoreV1().ConfigMaps("default").Delete(ctx, "envfrom", metav1.DeleteOptions{})
		})
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "envfrom"}, StringData: data}
		_, err = cs.CoreV1().Secrets("default").Create(ctx, sec, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) { cs.CoreV1().Secrets("default").Delete(ctx, "envfrom", metav1.DeleteOptions{}) })

		p := testPod("envfrom")
		p.Spec.RestartPolicy = corev1.RestartPolicyNever
		p.Spec.Containers[0].Command = []string{"/testapp", "env"}
		ref := corev1.LocalObjectReference{Name: "envfrom"}
		prefixes := []string{"", "p-", "1-", "$_-", "ABC_", "#@!"}
		for _, prefix := range prefixes {
			p.Spec.Containers[0].EnvFrom = append(p.Spec.Containers[0].EnvFrom, corev1.EnvFromSource{Prefix: prefix, ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: ref}})
		}
		p.Spec.Containers[0].EnvFrom = append(p.Spec.Containers[0].EnvFrom, corev1.EnvFromSource{Prefix: "s-", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: ref}})
		create(ctx, cs, p)
		waitFor(ctx, cs, "envfrom", time.Minute, func(g Gomega, p *corev1.Pod) { g.Expect(p.Status.Phase).To(Equal(corev1.PodSucceeded)) })
		out, err := cs.CoreV1().Pods("default").GetLogs("envfrom", &corev1.PodLogOptions{}).DoRaw(ctx)
		Expect(err).NotTo(HaveOccurred())
		lines := strings.Split(string(out), "\n")
		for _, prefix := range append(prefixes, "s-") {
			Expect(lines).To(ContainElements(prefix+"data-1=value-1", prefix+"data-2=value-2"), "prefix %q", prefix)
		}
	}, SpecTimeout(90*time.Second))

	It("runs init containers in order and reports them as upstream: PodInitializing, Ready once done, Initialized", func(ctx SpecContext) {
		initPod := func(name string, policy corev1.RestartPolicy, init1, init2 []string) *corev1.Pod {
			p := testPod(name)
			p.Spec.RestartPolicy = policy
			p.Spec.InitContainers = []corev1.Container{
				{Name: "init1", Image: testImage, Command: init1},
				{Name: "init2", Image: testImage, Command: init2},
			}
			return p
		}
		ok, fails := []string{"/testapp", "id"}, []string{"/testapp", "cat", "/missing"}
		create(ctx, cs, initPod("init-ok", corev1.RestartPolicyAlways, ok, ok))
		create(ctx, cs, initPod("init-never", corev1.RestartPolicyNever, ok, fails))
		create(ctx, cs, initPod("init-always", corev1.RestartPolicyAlways, fails, ok))

		By("init containers that succeeded are Ready and terminated with 0; the pod runs")
		pod := watchInit(ctx, cs, "init-ok", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
		Expect(initializedCondition(pod)).To(Equal("True  "))
		for _, st := range pod.Status.InitContainerStatuses {
			Expect(st.Ready).To(BeTrue(), st.Name)
			Expect(st.State.Terminated).NotTo(BeNil(), st.Name)
			Expect(st.State.Terminated.ExitCode).To(BeZero(), st.Name)
		}

		By("under Never, a failed init container fails the pod, the app never starting")
		pod = watchInit(ctx, cs, "init-never", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
		Expect(initializedCondition(pod)).To(Equal("False ContainersNotInitialized containers with incomplete status: [init2]"))
		Expect(pod.Status.ContainerStatuses[0].State.Waiting).NotTo(BeNil())

		By("under Always, a failing init container restarts with backoff, the next and the app waiting")
		pod = watchInit(ctx, cs, "init-always", func(p *corev1.Pod) bool {
			return len(p.Status.InitContainerStatuses) == 2 && p.Status.InitContainerStatuses[0].RestartCount >= 3
		})
		Expect(pod.Status.Phase).To(Equal(corev1.PodPending))
		Expect(pod.Status.InitContainerStatuses[0].LastTerminationState.Terminated).NotTo(BeNil())
		Expect(initializedCondition(pod)).To(Equal("False ContainersNotInitialized containers with incomplete status: [init1 init2]"))
	}, SpecTimeout(3*time.Minute))

	It("projects ClusterTrustBundles by name and by signer and labels, and holds a pod whose required bundle is missing", func(ctx SpecContext) {
		bundles := []struct{ name, signer, alive string }{
			{"kinns-plain", "", ""}, {"kinns.io:one:alive", "kinns.io/one", "true"}, {"kinns.io:one:dead", "kinns.io/one", "false"},
		}
		pems := map[string]string{}
		for _, b := range bundles {
			pems[b.name] = caPEM(b.name)
			ctb := &certificatesv1.ClusterTrustBundle{ObjectMeta: metav1.ObjectMeta{Name: b.name},
				Spec: certificatesv1.ClusterTrustBundleSpec{SignerName: b.signer, TrustBundle: pems[b.name]}}
			if b.alive != "" {
				ctb.Labels = map[string]string{"alive": b.alive}
			}
			_, err := cs.CertificatesV1().ClusterTrustBundles().Create(ctx, ctb, metav1.CreateOptions{})
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func(ctx SpecContext) {
				cs.CertificatesV1().ClusterTrustBundles().Delete(ctx, b.name, metav1.DeleteOptions{})
			})
		}
		signer := ptr.To("kinns.io/one")
		p := testPod("ctb")
		p.Spec.Volumes = []corev1.Volume{{Name: "ctb", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ClusterTrustBundle: &corev1.ClusterTrustBundleProjection{Name: ptr.To("kinns-plain"), Path: "plain.pem"}},
			{ClusterTrustBundle: &corev1.ClusterTrustBundleProjection{SignerName: signer, Path: "alive.pem",
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"alive": "true"}}}},
			{ClusterTrustBundle: &corev1.ClusterTrustBundleProjection{SignerName: signer, Path: "all.pem", LabelSelector: &metav1.LabelSelector{}}},
			{ClusterTrustBundle: &corev1.ClusterTrustBundleProjection{Name: ptr.To("none"), Path: "none.pem", Optional: ptr.To(true)}},
		}}}}}
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "ctb", MountPath: "/ctb"}}
		create(ctx, cs, p)
		waitFor(ctx, cs, "ctb", time.Minute, beReady)
		read := func(file string) string {
			out, err := execIn(ctx, lab, cs, "ctb", "/testapp", "cat", "/ctb/"+file)
			Expect(err).NotTo(HaveOccurred())
			return out
		}
		Expect(read("plain.pem")).To(Equal(pems["kinns-plain"]))
		Expect(read("alive.pem")).To(Equal(pems["kinns.io:one:alive"]))
		Expect(read("all.pem")).To(SatisfyAll(ContainSubstring(pems["kinns.io:one:alive"]), ContainSubstring(pems["kinns.io:one:dead"]),
			HaveLen(len(pems["kinns.io:one:alive"])+len(pems["kinns.io:one:dead"]))))
		Expect(read("none.pem")).To(BeEmpty())
		Expect(execIn(ctx, lab, cs, "ctb", "/testapp", "stat", "/ctb/..data/plain.pem")).To(HavePrefix("/ctb/..data/plain.pem -rw-r--r-- "))

		held := testPod("ctb-missing")
		held.Spec.Volumes = []corev1.Volume{{Name: "ctb", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ClusterTrustBundle: &corev1.ClusterTrustBundleProjection{SignerName: signer, Path: "x.pem", Optional: ptr.To(false),
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"alive": "unknown"}}}},
		}}}}}
		held.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "ctb", MountPath: "/ctb"}}
		create(ctx, cs, held)
		Eventually(func() []string { return eventNotes(ctx, cs, "ctb-missing", "FailedMount") }).WithContext(ctx).WithTimeout(30 * time.Second).
			Should(ContainElement(`MountVolume.SetUp failed for volume "ctb" : combination of signerName and labelSelector matched zero ClusterTrustBundles`))
		waitFor(ctx, cs, "ctb-missing", 5*time.Second, func(g Gomega, p *corev1.Pod) {
			g.Expect(p.Status.ContainerStatuses).To(HaveLen(1))
			g.Expect(p.Status.ContainerStatuses[0].State.Waiting).NotTo(BeNil())
			g.Expect(p.Status.ContainerStatuses[0].State.Waiting.Reason).To(Equal("ContainerCreating"))
			g.Expect(p.Status.Phase).To(Equal(corev1.PodPending))
		})
	}, SpecTimeout(2*time.Minute))

	It("projects a pod certificate that a signer issued for the pod's PodCertificateRequest", func(ctx SpecContext) {
		const signer = "kinns.io/pods"
		keys, certs, err := hermeticpodcertificatesigner.GenerateCAHierarchy(1)
		Expect(err).NotTo(HaveOccurred())
		signing, stop := context.WithCancel(context.Background())
		DeferCleanup(stop)
		go hermeticpodcertificatesigner.New(clock.RealClock{}, signer, "cluster.local", keys, certs, cs).Run(signing)

		p := testPod("podcert")
		p.Spec.Volumes = []corev1.Volume{{Name: "tls", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{PodCertificate: &corev1.PodCertificateProjection{SignerName: signer, KeyType: "ECDSAP256", CredentialBundlePath: "bundle.pem",
				CertificateChainPath: "chain.pem", MaxExpirationSeconds: ptr.To[int32](3600),
				UserAnnotations: map[string]string{hermeticpodcertificatesigner.SpiffePathKey: "/custom-workload"}}},
		}}}}}
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "tls", MountPath: "/tls"}}
		create(ctx, cs, p)
		waitFor(ctx, cs, "podcert", time.Minute, beReady)
		bundle, err := execIn(ctx, lab, cs, "podcert", "/testapp", "cat", "/tls/bundle.pem")
		Expect(err).NotTo(HaveOccurred())
		Expect(bundle).To(HavePrefix("-----BEGIN PRIVATE KEY-----"), "the key first, then the chain")
		chain, err := execIn(ctx, lab, cs, "podcert", "/testapp", "cat", "/tls/chain.pem")
		Expect(err).NotTo(HaveOccurred())
		Expect(bundle).To(HaveSuffix(chain))
		leaf, _ := pem.Decode([]byte(chain))
		Expect(leaf).NotTo(BeNil())
		cert, err := x509.ParseCertificate(leaf.Bytes)
		Expect(err).NotTo(HaveOccurred())
		Expect(cert.NotAfter.Sub(cert.NotBefore)).To(Equal(time.Hour), "maxExpirationSeconds")
		Expect(cert.URIs).To(ContainElement(HaveField("Path", "/custom-workload")), "the user annotation reached the signer")
	}, SpecTimeout(2*time.Minute))

	It("expands a volume's subPathExpr from the container's environment, waiting while a variable is empty", func(ctx SpecContext) {
		p := testPod("subpath")
		p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, corev1.EnvVar{Name: "ANNOTATION", ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['mysubpath']"}}})
		p.Spec.Volumes = []corev1.Volume{{Name: "work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{
			{Name: "work", MountPath: "/subpath_mount", SubPathExpr: "$(ANNOTATION)/$(POD_NAME)"},
			{Name: "work", MountPath: "/volume_mount"},
		}
		create(ctx, cs, p)
		waitFor(ctx, cs, "subpath", time.Minute, func(g Gomega, p *corev1.Pod) {
			g.Expect(p.Status.ContainerStatuses).To(HaveLen(1))
			g.Expect(p.Status.ContainerStatuses[0].State.Waiting).NotTo(BeNil())
			g.Expect(p.Status.ContainerStatuses[0].State.Waiting.Reason).To(Equal("CreateContainerConfigError"))
		})
		_, err := cs.CoreV1().Pods("default").Patch(ctx, "subpath", types.MergePatchType, []byte(`{"metadata":{"annotations":{"mysubpath":"mypath"}}}`), metav1.PatchOptions{})
		Expect(err).NotTo(HaveOccurred())
		waitFor(ctx, cs, "subpath", time.Minute, beReady)
		_, err = execIn(ctx, lab, cs, "subpath", "/testapp", "write", "/volume_mount/mypath/subpath/test.log", "x")
		Expect(err).NotTo(HaveOccurred())
		Expect(execIn(ctx, lab, cs, "subpath", "/testapp", "cat", "/subpath_mount/test.log")).To(Equal("x"))
	}, SpecTimeout(2*time.Minute))
})

// An ephemeral container added through pods/ephemeralcontainers, as
// client-go's UpdateEphemeralContainers and `kubectl debug` add it.
var _ = Describe("Ephemeral containers", Kubelet, func() {
	It("runs one in an existing pod, in its network and its target's processes, reachable by exec and logs, adopted by a restarted kubelet and stopped with the pod", func(ctx SpecContext) {
		lab := bootLab(ctx, 1)
		cs := clientAs(lab, pki.Admin)
		create(ctx, cs, testPod("debugged"))
		p := waitFor(ctx, cs, "debugged", time.Minute, beReady)

		By("adding an ephemeral container that shares the app's processes")
		p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, corev1.EphemeralContainer{
			EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debugger", Image: testImage, Args: []string{"serve", "--http-port", "8081", "--echo-port", "9001"},
			},
			TargetContainerName: "app",
		})
		_, err := cs.CoreV1().Pods("default").UpdateEphemeralContainers(ctx, "debugged", p, metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())
		p = waitFor(ctx, cs, "debugged", time.Minute, func(g Gomega, p *corev1.Pod) {
			g.Expect(p.Status.EphemeralContainerStatuses).To(HaveLen(1))
			g.Expect(p.Status.EphemeralContainerStatuses[0].State.Running).NotTo(BeNil(), "%+v", p.Status.EphemeralContainerStatuses[0])
		})
		ec := p.Status.EphemeralContainerStatuses[0]
		Expect(ec.ContainerID).To(HavePrefix("containerd://"))
		Expect(ec.ImageID).NotTo(BeEmpty())
		Expect(ec.Ready).To(BeFalse())
		Expect(podReady(p)).To(BeTrue(), "an ephemeral container does not count for Ready")

		By("exec reaches it: the pod's network, the app's process as PID 1")
		out, err := execInContainer(ctx, lab, cs, "debugged", "debugger", "/testapp", "get", "http://127.0.0.1:8080/hostname")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal("debugged"))
		out, err = execInContainer(ctx, lab, cs, "debugged", "debugger", "/testapp", "cat", "/proc/1/cmdline")
		Expect(err).NotTo(HaveOccurred())
		// The image's default command; the debugger's own is "serve --http-port 8081 …".
		Expect(out).To(Equal("/testapp\x00serve\x00"), "PID 1 is the target's process")

		By("its logs")
		Eventually(func(g Gomega) {
			b, err := cs.CoreV1().Pods("default").GetLogs("debugged", &corev1.PodLogOptions{Container: "debugger"}).DoRaw(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(string(b)).To(ContainSubstring("8081"))
		}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())

		By("a restarted kubelet adopts it, without starting it again")
		kubelet := harness.KubeletComponent("node-1")
		Expect(lab.KillComponent(ctx, kubelet)).To(Succeed())
		Expect(lab.StartComponent(ctx, kubelet)).To(Succeed())
		Consistently(func(g Gomega) {
			p, err := cs.CoreV1().Pods("default").Get(ctx, "debugged", metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(p.Status.EphemeralContainerStatuses).To(HaveLen(1))
			got := p.Status.EphemeralContainerStatuses[0]
			g.Expect(got.ContainerID).To(Equal(ec.ContainerID))
			g.Expect(got.State.Running).NotTo(BeNil())
		}).WithContext(ctx).WithTimeout(5 * time.Second).WithPolling(500 * time.Millisecond).Should(Succeed())

		By("deleting the pod stops it")
		Expect(cs.CoreV1().Pods("default").Delete(ctx, "debugged", metav1.DeleteOptions{})).To(Succeed())
		Eventually(func(g Gomega) {
			_, err := cs.CoreV1().Pods("default").Get(ctx, "debugged", metav1.GetOptions{})
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "pod still there: %v", err)
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
	}, SpecTimeout(4*time.Minute))
})

// watchInit polls a pod with init containers until done, failing at once if
// a status breaks what upstream's InitContainer conformance tests hold: app
// containers wait in PodInitializing, never restarted, until the pod is
// initialized; an init container after one not done waits in PodInitializing.
func watchInit(ctx context.Context, cs kubernetes.Interface, name string, done func(*corev1.Pod) bool) *corev1.Pod {
	GinkgoHelper()
	var pod *corev1.Pod
	Eventually(func(g Gomega) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		if err := initInvariant(p); err != nil {
			StopTrying(err.Error()).Now()
		}
		g.Expect(done(p)).To(BeTrue(), "pod %s: %+v", name, p.Status)
		pod = p
	}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(100 * time.Millisecond).Should(Succeed())
	return pod
}

func initInvariant(p *corev1.Pod) error {
	pending := false // an earlier init container has not completed
	for _, st := range p.Status.InitContainerStatuses {
		if pending && (st.State.Waiting == nil || st.State.Waiting.Reason != "PodInitializing") {
			return fmt.Errorf("init container %s after one not done: %+v", st.Name, st.State)
		}
		if st.State.Terminated == nil || st.State.Terminated.ExitCode != 0 {
			pending = true
		} else if !st.Ready {
			return fmt.Errorf("init container %s ended with 0 but is not Ready", st.Name)
		}
	}
	for _, st := range p.Status.ContainerStatuses {
		if pending && (st.State.Waiting == nil || st.State.Waiting.Reason != "PodInitializing" || st.RestartCount != 0) {
			return fmt.Errorf("container %s before initialization: %+v", st.Name, st.State)
		}
	}
	return nil
}

// initializedCondition renders the pod's Initialized condition as
// "Status Reason Message".
func initializedCondition(p *corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodInitialized {
			return fmt.Sprintf("%s %s %s", c.Status, c.Reason, c.Message)
		}
	}
	return "none"
}

// caPEM is a new self-signed CA certificate, PEM-encoded, as a
// ClusterTrustBundle holds.
func caPEM(cn string) string {
	GinkgoHelper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	Expect(err).NotTo(HaveOccurred())
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	Expect(err).NotTo(HaveOccurred())
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
