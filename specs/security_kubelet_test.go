package specs

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"

	"github.com/kinns/kinns/cni/netns"
	"github.com/kinns/kinns/controlplane/pki"
	"github.com/kinns/kinns/harness"
)

// saTokenPath is where a pod reads its projected service account token.
const saTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// kubeletCaller calls node's kubelet API (port 10250) from the client host,
// checking the kubelet's serving certificate against the lab's CA.
type kubeletCaller struct {
	lab *harness.Lab
	ca  []byte
}

// identity is how a call authenticates: a lab certificate, a bearer token,
// or neither.
type identity struct {
	cert  pki.Identity
	token string
}

func (k kubeletCaller) get(ctx context.Context, node, path string, id identity) (int, string) {
	GinkgoHelper()
	cfg := &rest.Config{TLSClientConfig: rest.TLSClientConfig{CAData: k.ca}, BearerToken: id.token, Timeout: 10 * time.Second}
	if id.cert != "" {
		rc, err := k.lab.RESTConfigAs(id.cert)
		Expect(err).NotTo(HaveOccurred())
		cfg.CertData, cfg.KeyData = rc.CertData, rc.KeyData
	}
	from, err := k.lab.Host("client")
	Expect(err).NotTo(HaveOccurred())
	cfg.Dial = netns.DialContext(netns.Path(from.Netns))
	hc, err := rest.HTTPClientFor(cfg)
	Expect(err).NotTo(HaveOccurred())
	n, err := k.lab.Host(node)
	Expect(err).NotTo(HaveOccurred())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+n.IP.String()+":10250"+path, nil)
	Expect(err).NotTo(HaveOccurred())
	resp, err := hc.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// tokenOf asks the API for a token of service account sa in default.
func tokenOf(ctx context.Context, cs kubernetes.Interface, sa string) string {
	GinkgoHelper()
	tr, err := cs.CoreV1().ServiceAccounts("default").CreateToken(ctx, sa, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	return tr.Status.Token
}

// jwtClaims decodes the claims of a JWT without checking its signature
// (the API server checks it).
func jwtClaims(tok string) (iat, exp int64) {
	GinkgoHelper()
	parts := strings.Split(strings.TrimSpace(tok), ".")
	Expect(parts).To(HaveLen(3), "a JWT: %q", tok)
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	Expect(err).NotTo(HaveOccurred())
	var c struct{ Iat, Exp int64 }
	Expect(json.NewDecoder(bytes.NewReader(raw)).Decode(&c)).To(Succeed())
	return c.Iat, c.Exp
}

var _ = Describe("The kubelet API and service account tokens", securityLabel, Ordered, func() {
	const logsPath = "/containerLogs/default/web/app"
	var (
		lab     *harness.Lab
		cs      kubernetes.Interface
		kubelet kubeletCaller
	)
	BeforeAll(func(ctx SpecContext) {
		lab = bootLab(ctx, 2)
		cs = clientAs(lab, pki.Admin)
		rc, err := lab.RESTConfigAs(pki.Admin)
		Expect(err).NotTo(HaveOccurred())
		kubelet = kubeletCaller{lab: lab, ca: rc.CAData}

		By("service accounts nobody (no rights) and reader (nodes/proxy get, through a ClusterRole)")
		for _, sa := range []string{"nobody", "reader"} {
			_, err := cs.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{})
			Expect(err).NotTo(HaveOccurred())
		}
		_, err = cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: "kubelet-proxy-reader"},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes/proxy"}, Verbs: []string{"get"}}},
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "kubelet-proxy-reader"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kubelet-proxy-reader"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "default", Name: "reader"}},
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())

		By("a pod on node-1 running as reader, with its projected token")
		p := testPod("web")
		p.Spec.NodeName, p.Spec.ServiceAccountName = "node-1", "reader"
		create(ctx, cs, p)
		waitFor(ctx, cs, "web", time.Minute, beReady)
	}, NodeTimeout(2*time.Minute))

	It("refuses anonymous callers (401), a node's certificate and a service account without rights (403)", func(ctx SpecContext) {
		code, body := kubelet.get(ctx, "node-1", logsPath, identity{})
		Expect(code).To(Equal(http.StatusUnauthorized), body)
		code, body = kubelet.get(ctx, "node-1", "/healthz", identity{})
		Expect(code).To(Equal(http.StatusUnauthorized), "healthz on 10250 needs authentication too, as upstream: %s", body)
		code, body = kubelet.get(ctx, "node-1", logsPath, identity{token: "not-a-token"})
		Expect(code).To(Equal(http.StatusUnauthorized), body)

		code, body = kubelet.get(ctx, "node-1", logsPath, identity{cert: pki.NodeIdentity("node-2")})
		Expect(code).To(Equal(http.StatusForbidden), body)
		Expect(body).To(ContainSubstring("Forbidden (user=system:node:node-2, verb=get, resource=nodes, subresource(s)=[proxy])"))
		code, body = kubelet.get(ctx, "node-1", logsPath, identity{cert: pki.NodeIdentity("node-1")})
		Expect(code).To(Equal(http.StatusForbidden), "the Node authorizer grants a node no nodes/proxy, not even its own: %s", body)

		code, body = kubelet.get(ctx, "node-1", logsPath, identity{token: tokenOf(ctx, cs, "nobody")})
		Expect(code).To(Equal(http.StatusForbidden), body)
		Expect(body).To(ContainSubstring("Forbidden (user=system:serviceaccount:default:nobody, verb=get, resource=nodes, subresource(s)=[proxy])"))
		code, body = kubelet.get(ctx, "node-1", "/pods", identity{token: tokenOf(ctx, cs, "nobody")})
		Expect(code).To(Equal(http.StatusForbidden), body)
		Expect(body).To(ContainSubstring("subresource(s)=[pods proxy]"))
	}, SpecTimeout(time.Minute))

	It("serves a service account bound to nodes/proxy get, from the client host and from a pod", func(ctx SpecContext) {
		code, body := kubelet.get(ctx, "node-1", logsPath, identity{token: tokenOf(ctx, cs, "reader")})
		Expect(code).To(Equal(http.StatusOK), body)
		Expect(body).To(ContainSubstring("serving"))
		code, body = kubelet.get(ctx, "node-1", logsPath, identity{cert: pki.Admin})
		Expect(code).To(Equal(http.StatusOK), "a cluster admin's certificate (system:masters): %s", body)

		By("the pod reads its own logs through node-1's kubelet with its projected token")
		out, err := execIn(ctx, lab, cs, "web", "/testapp", "get", "--insecure", "--bearer-token-file", saTokenPath,
			"https://"+nodeIP(lab, "node-1")+":10250"+logsPath)
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("serving"))
	}, SpecTimeout(time.Minute))

	It("keeps kubectl logs, exec and port-forward working through the API server", func(ctx SpecContext) {
		logs, err := cs.CoreV1().Pods("default").GetLogs("web", &corev1.PodLogOptions{}).DoRaw(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(logs)).To(ContainSubstring("serving"))
		out, err := execIn(ctx, lab, cs, "web", "/testapp", "get", "http://127.0.0.1:8080/hostname")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal("web"))
		Expect(portForwardGet(ctx, lab, cs, "web", 8080, "/hostname")).To(Equal("web"))
	}, SpecTimeout(time.Minute))

	It("renews a running pod's projected token, which the API accepts", func(ctx SpecContext) {
		read := func() string {
			GinkgoHelper()
			tok, err := execIn(ctx, lab, cs, "web", "/testapp", "cat", saTokenPath)
			Expect(err).NotTo(HaveOccurred())
			return tok
		}
		first := read()
		iat0, exp0 := jwtClaims(first)
		Expect(exp0-iat0).To(BeEquivalentTo(3607), "the fast profile does not stretch a kubelet's token to a year")
		start := time.Now()
		var renewed string
		Eventually(func(g Gomega) {
			renewed = read()
			iat, _ := jwtClaims(renewed)
			g.Expect(iat).To(BeNumerically(">", iat0))
		}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		AddReportEntry("token renewed after", time.Since(start).Round(time.Second).String())

		review, err := cs.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
			Spec: authenticationv1.TokenReviewSpec{Token: strings.TrimSpace(renewed)},
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(review.Status.Authenticated).To(BeTrue(), review.Status.Error)
		Expect(review.Status.User.Username).To(Equal("system:serviceaccount:default:reader"))

		By("the pod's own requests with the file it reads now are accepted")
		out, err := execIn(ctx, lab, cs, "web", "/testapp", "get", "--insecure", "--bearer-token-file", saTokenPath, "https://10.96.0.1/version")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("gitVersion"))
	}, SpecTimeout(2*time.Minute))
})

// nodeIP is node's fabric address.
func nodeIP(lab *harness.Lab, node string) string {
	GinkgoHelper()
	h, err := lab.Host(node)
	Expect(err).NotTo(HaveOccurred())
	return h.IP.String()
}

// portForwardGet forwards a local port to the pod's port through the API
// server (SPDY, as kubectl port-forward) and GETs path through it.
func portForwardGet(ctx context.Context, lab *harness.Lab, cs kubernetes.Interface, pod string, port int, path string) string {
	GinkgoHelper()
	rc, err := lab.RESTConfig()
	Expect(err).NotTo(HaveOccurred())
	transport, upgrader, err := spdy.RoundTripperFor(rc)
	Expect(err).NotTo(HaveOccurred())
	url := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name(pod).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, url)
	stop, ready := make(chan struct{}), make(chan struct{})
	defer close(stop)
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)}, stop, ready, io.Discard, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	errs := make(chan error, 1)
	go func() { errs <- fw.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-errs:
		Fail(fmt.Sprintf("port-forward to %s: %v", pod, err))
	case <-ctx.Done():
		Fail("port-forward not ready before the spec's end")
	}
	ports, err := fw.GetPorts()
	Expect(err).NotTo(HaveOccurred())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", ports[0].Local, path), nil)
	Expect(err).NotTo(HaveOccurred())
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return string(body)
}
