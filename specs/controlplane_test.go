package specs

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/kinns/kinns/controlplane/pki"
)

func configMap(name string, v int) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"v": strconv.Itoa(v)}}
}

// write creates or updates a config map and reports how long the API took.
func write(ctx context.Context, cs kubernetes.Interface, name string, v int) (time.Duration, error) {
	t := time.Now()
	_, err := cs.CoreV1().ConfigMaps("default").Create(ctx, configMap(name, v), metav1.CreateOptions{})
	return time.Since(t), err
}

var _ = Describe("The API server", APIServer, func() {
	It("[claim 1] refuses unauthenticated, forbidden and invalid orders with the right status, and records accepted ones in etcd", func(ctx SpecContext) {
		lab := bootLab(ctx, 2)

		By("an anonymous request gets 401")
		insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		resp, err := insecure.Get(lab.APIServerURL() + "/api/v1/namespaces")
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusUnauthorized))

		By("a node may not touch another node, nor read secrets: 403 with a reason")
		node1 := clientAs(lab, pki.NodeIdentity("node-1"))
		_, err = node1.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-2"}}, metav1.CreateOptions{})
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("node-1"))
		proxy := clientAs(lab, pki.Proxy)
		_, err = proxy.CoreV1().ConfigMaps("default").Create(ctx, configMap("p", 1), metav1.CreateOptions{})
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "the proxy may only read: %v", err)

		By("an invalid object gets 422 with the field at fault")
		admin := clientAs(lab, pki.Admin)
		_, err = admin.CoreV1().ConfigMaps("default").Create(ctx, configMap("Not_A_Name", 1), metav1.CreateOptions{})
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
		st := err.(apierrors.APIStatus).Status()
		Expect(st.Code).To(BeEquivalentTo(422))
		Expect(st.Details.Causes).NotTo(BeEmpty())
		Expect(st.Details.Causes[0].Field).To(Equal("metadata.name"))

		By("an unknown content type gets 415, an oversized body 413, a malformed one 400")
		raw := admin.CoreV1().RESTClient()
		var code int
		raw.Post().AbsPath("/api/v1/namespaces/default/configmaps").SetHeader("Content-Type", "text/plain").
			Body([]byte("hello")).Do(ctx).StatusCode(&code)
		Expect(code).To(Equal(http.StatusUnsupportedMediaType))
		raw.Post().AbsPath("/api/v1/namespaces/default/configmaps").SetHeader("Content-Type", "application/json").
			Body(make([]byte, 4<<20)).Do(ctx).StatusCode(&code)
		Expect(code).To(Equal(http.StatusRequestEntityTooLarge))
		raw.Post().AbsPath("/api/v1/namespaces/default/configmaps").SetHeader("Content-Type", "application/json").
			Body([]byte(`{"kind":`)).Do(ctx).StatusCode(&code)
		Expect(code).To(Equal(http.StatusBadRequest))

		By("a duplicate gets 409, a missing object 404")
		_, err = admin.CoreV1().ConfigMaps("default").Create(ctx, configMap("ok", 1), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		_, err = admin.CoreV1().ConfigMaps("default").Create(ctx, configMap("ok", 1), metav1.CreateOptions{})
		Expect(apierrors.IsAlreadyExists(err)).To(BeTrue(), "%v", err)
		_, err = admin.CoreV1().ConfigMaps("default").Get(ctx, "missing", metav1.GetOptions{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%v", err)

		By("the accepted object is in etcd itself")
		ec := etcdFrom(lab, "cp-2")
		defer ec.Close()
		got, err := ec.Get(ctx, "/registry/configmaps/default/ok")
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Kvs).To(HaveLen(1))
	}, SpecTimeout(2*time.Minute))

	It("boots with the default namespaces and the kubernetes Service at 10.96.0.1", func(ctx SpecContext) {
		lab := bootLab(ctx, 1)
		admin := clientAs(lab, pki.Admin)
		Eventually(func(g Gomega) {
			for _, ns := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
				_, err := admin.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
				g.Expect(err).NotTo(HaveOccurred())
			}
			svc, err := admin.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(svc.Spec.ClusterIP).To(Equal("10.96.0.1"))
		}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())
		v, err := admin.Discovery().ServerVersion()
		Expect(err).NotTo(HaveOccurred())
		Expect(v.Major).To(Equal("1"))
	}, SpecTimeout(2*time.Minute))
})

var _ = Describe("The etcd cluster", Etcd, func() {
	It("[claim 14] loses one member without clients noticing", func(ctx SpecContext) {
		lab := bootLab(ctx, 1)
		admin := clientAs(lab, pki.Admin)
		By("a member stopped, the leader or not")
		Expect(lab.StopEtcd(ctx, 3)).To(Succeed())
		for i := range 5 {
			_, err := write(ctx, admin, fmt.Sprintf("one-down-%d", i), i)
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(lab.StartEtcd(ctx, 3)).To(Succeed())
		_, err := write(ctx, admin, "all-back", 0)
		Expect(err).NotTo(HaveOccurred())

		By("a follower crashed")
		// A crashed leader costs the writes forwarded to it in that instant
		// etcd's request timeout: that is etcd, not kinns, so a follower goes.
		cli := etcdFrom(lab, "client")
		defer cli.Close()
		st, err := cli.Status(ctx, lab.EtcdEndpoints()[0])
		Expect(err).NotTo(HaveOccurred())
		follower := 0
		for n, ep := range lab.EtcdEndpoints() {
			s, err := cli.Status(ctx, ep)
			Expect(err).NotTo(HaveOccurred())
			if s.Header.MemberId != st.Leader {
				follower = n + 1
			}
		}
		Expect(follower).NotTo(BeZero())
		Expect(lab.KillEtcd(ctx, follower)).To(Succeed())
		for i := range 5 {
			_, err := write(ctx, admin, fmt.Sprintf("follower-down-%d", i), i)
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(lab.StartEtcd(ctx, follower)).To(Succeed())
	}, SpecTimeout(2*time.Minute))

	It("[claim 16] without quorum fails writes fast with a clear error, keeps serving reads, and recovers", func(ctx SpecContext) {
		lab := bootLab(ctx, 1)
		admin := clientAs(lab, pki.Admin)
		_, err := write(ctx, admin, "before", 1)
		Expect(err).NotTo(HaveOccurred())

		Expect(lab.LoseQuorum(ctx)).To(Succeed())
		By("writes fail with 503 and say why, in about two seconds")
		Eventually(func(g Gomega) {
			took, err := write(ctx, admin, "during", 1)
			g.Expect(apierrors.IsServiceUnavailable(err)).To(BeTrue(), "%v", err)
			g.Expect(err.Error()).To(ContainSubstring("quorum"))
			g.Expect(took).To(BeNumerically("<", 2500*time.Millisecond))
		}).WithContext(ctx).WithTimeout(15 * time.Second).Should(Succeed())

		By("reads are still served, and /readyz says the server is not ready")
		_, err = admin.CoreV1().ConfigMaps("default").Get(ctx, "before", metav1.GetOptions{ResourceVersion: "0"})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() int {
			var code int
			admin.CoreV1().RESTClient().Get().AbsPath("/readyz").Do(ctx).StatusCode(&code)
			return code
		}).WithContext(ctx).WithTimeout(15 * time.Second).ShouldNot(Equal(http.StatusOK))

		By("one member back restores writes")
		Expect(lab.StartEtcd(ctx, 2)).To(Succeed())
		Eventually(func() error { _, err := write(ctx, admin, "after", 1); return err }).
			WithContext(ctx).WithTimeout(20 * time.Second).Should(Succeed())
	}, SpecTimeout(3*time.Minute))

	It("[claim 2] loses nothing when the API server and every etcd member restart", func(ctx SpecContext) {
		lab := bootLab(ctx, 1)
		admin := clientAs(lab, pki.Admin)
		for i := range 10 {
			_, err := write(ctx, admin, fmt.Sprintf("keep-%d", i), i)
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(lab.StopAPIServer(ctx)).To(Succeed())
		for n := 1; n <= 3; n++ {
			Expect(lab.StopEtcd(ctx, n)).To(Succeed())
		}
		Expect(lab.RestoreQuorum(ctx)).To(Succeed())
		Expect(lab.StartAPIServer(ctx)).To(Succeed())
		admin = clientAs(lab, pki.Admin)
		list, err := admin.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred())
		names := map[string]string{}
		for _, cm := range list.Items {
			names[cm.Name] = cm.Data["v"]
		}
		for i := range 10 {
			Expect(names).To(HaveKeyWithValue(fmt.Sprintf("keep-%d", i), strconv.Itoa(i)))
		}
	}, SpecTimeout(3*time.Minute))

	It("lets an informer see every change once and in order across a member restart", func(ctx SpecContext) {
		lab := bootLab(ctx, 1)
		admin := clientAs(lab, pki.Admin)
		_, err := write(ctx, admin, "seq", 0)
		Expect(err).NotTo(HaveOccurred())

		seen := make(chan string, 100)
		factory := informers.NewSharedInformerFactoryWithOptions(admin, 0, informers.WithNamespace("default"),
			informers.WithTweakListOptions(func(o *metav1.ListOptions) {
				o.FieldSelector = fields.OneTermEqualSelector("metadata.name", "seq").String()
			}))
		inf := factory.Core().V1().ConfigMaps().Informer()
		inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: func(o any) { seen <- o.(*corev1.ConfigMap).Data["v"] },
			UpdateFunc: func(old, cur any) {
				// A relist delivers unchanged objects again: only real changes count.
				if old.(*corev1.ConfigMap).ResourceVersion != cur.(*corev1.ConfigMap).ResourceVersion {
					seen <- cur.(*corev1.ConfigMap).Data["v"]
				}
			},
		})
		ictx, cancel := context.WithCancel(ctx)
		DeferCleanup(cancel)
		factory.Start(ictx.Done())
		Expect(cache.WaitForCacheSync(ctx.Done(), inf.HasSynced)).To(BeTrue())

		update := func(v int) {
			GinkgoHelper()
			Eventually(func() error {
				cm, err := admin.CoreV1().ConfigMaps("default").Get(ctx, "seq", metav1.GetOptions{})
				if err != nil {
					return err
				}
				cm.Data["v"] = strconv.Itoa(v)
				_, err = admin.CoreV1().ConfigMaps("default").Update(ctx, cm, metav1.UpdateOptions{})
				return err
			}).WithContext(ctx).WithTimeout(20 * time.Second).Should(Succeed())
		}
		for v := 1; v <= 5; v++ {
			update(v)
		}
		Expect(lab.StopEtcd(ctx, 1)).To(Succeed())
		for v := 6; v <= 10; v++ {
			update(v)
		}
		Expect(lab.StartEtcd(ctx, 1)).To(Succeed())
		for v := 11; v <= 15; v++ {
			update(v)
		}
		var got []string
		Eventually(func() []string {
			for {
				select {
				case v := <-seen:
					got = append(got, v)
				default:
					return got
				}
			}
		}).WithContext(ctx).WithTimeout(20 * time.Second).Should(HaveLen(16))
		for i, v := range got {
			Expect(v).To(Equal(strconv.Itoa(i)), "changes seen: %v", got)
		}
		Consistently(seen).WithTimeout(time.Second).ShouldNot(Receive())
	}, SpecTimeout(3*time.Minute))
})
