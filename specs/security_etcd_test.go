package specs

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kinns/kinns/cni/netns"
	"github.com/kinns/kinns/controlplane/pki"
	"github.com/kinns/kinns/harness"
)

var _ = Describe("etcd behind TLS, Secrets encrypted at rest", securityLabel, Ordered, func() {
	var (
		lab   *harness.Lab
		admin kubernetes.Interface
	)
	BeforeAll(func(ctx SpecContext) {
		lab = bootLab(ctx, 1)
		admin = clientAs(lab, pki.Admin)
	}, NodeTimeout(2*time.Minute))

	It("etcd answers nobody without a client certificate of the etcd CA: not a pod, not a node, not the client host, not plain HTTP", func(ctx SpecContext) {
		create(ctx, admin, testPod("prober"))
		waitFor(ctx, admin, "prober", time.Minute, beReady)
		members := lab.Plan().ControlPlane()
		for _, m := range members {
			var refused []string // each port, which demands a certificate
			for _, port := range []int{harness.EtcdClientPort, harness.EtcdPeerPort, harness.EtcdHTTPPort} {
				refused = append(refused, "https://"+net.JoinHostPort(m.IP.String(), strconv.Itoa(port))+"/health")
			}
			plain := "http://" + net.JoinHostPort(m.IP.String(), strconv.Itoa(harness.EtcdHTTPPort)) + "/health"
			By("member " + m.Name + ": from the pod")
			for _, url := range refused {
				out, err := execIn(ctx, lab, admin, "prober", "/testapp", "get", "--insecure", "--timeout", "3s", url)
				Expect(err).To(HaveOccurred(), "%s from a pod answered: %s", url, out)
				Expect(err.Error()).To(ContainSubstring("certificate required"))
			}
			out, err := execIn(ctx, lab, admin, "prober", "/testapp", "get", "--timeout", "3s", plain)
			Expect(err).To(HaveOccurred(), "plain HTTP from a pod answered: %s", out)
			Expect(out).NotTo(ContainSubstring("health"))

			for _, host := range []string{"node-1", "client"} {
				By("member " + m.Name + ": from " + host)
				for _, url := range refused {
					out, err := lab.Exec(ctx, host, harness.TestAppCommand, "get", "--insecure", "--timeout", "3s", url)
					Expect(err).To(HaveOccurred(), "%s from %s answered: %s", url, host, out)
					Expect(string(out)).To(ContainSubstring("certificate required"))
				}
				out, err := lab.Exec(ctx, host, harness.TestAppCommand, "get", "--timeout", "3s", plain)
				Expect(err).To(HaveOccurred(), "plain HTTP from %s answered: %s", host, out)
				Expect(string(out)).NotTo(ContainSubstring(`"health"`))
			}
		}

		By("a certificate of the lab CA (a node's) opens nothing either")
		etcdTLS, err := lab.EtcdClientTLS()
		Expect(err).NotTo(HaveOccurred())
		rc, err := lab.RESTConfigAs(pki.NodeIdentity("node-1"))
		Expect(err).NotTo(HaveOccurred())
		node, err := tls.X509KeyPair(rc.CertData, rc.KeyData)
		Expect(err).NotTo(HaveOccurred())
		asNode := &tls.Config{RootCAs: etcdTLS.RootCAs, Certificates: []tls.Certificate{node}}
		_, err = etcdHealthFrom(ctx, lab, "node-1", members[0].IP.String(), asNode)
		Expect(err).To(MatchError(ContainSubstring("certificate")))

		By("with the lab's etcd client certificate, every member answers")
		for _, m := range members {
			body, err := etcdHealthFrom(ctx, lab, "client", m.IP.String(), etcdTLS)
			Expect(err).NotTo(HaveOccurred())
			Expect(body).To(ContainSubstring(`"health":"true"`))
		}
	}, SpecTimeout(2*time.Minute))

	It("keeps Secrets encrypted in etcd, and gives them back in the clear through the API", func(ctx SpecContext) {
		value := "spec-password-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "at-rest"}, StringData: map[string]string{"password": value}}
		_, err := admin.CoreV1().Secrets("default").Create(ctx, secret, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) {
			admin.CoreV1().Secrets("default").Delete(ctx, "at-rest", metav1.DeleteOptions{})
		})
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "in-the-clear"}, Data: map[string]string{"v": value}}
		_, err = admin.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) {
			admin.CoreV1().ConfigMaps("default").Delete(ctx, "in-the-clear", metav1.DeleteOptions{})
		})

		By("read raw from etcd, the Secret is ciphertext")
		ec := etcdFrom(lab, "client")
		defer ec.Close()
		raw, err := ec.Get(ctx, "/registry/secrets/default/at-rest")
		Expect(err).NotTo(HaveOccurred())
		Expect(raw.Kvs).To(HaveLen(1))
		stored := string(raw.Kvs[0].Value)
		Expect(stored).To(HavePrefix("k8s:enc:aescbc:v1:"))
		Expect(stored).NotTo(ContainSubstring(value))
		Expect(stored).NotTo(ContainSubstring("password"))
		By("only Secrets: a ConfigMap stays in the clear")
		raw, err = ec.Get(ctx, "/registry/configmaps/default/in-the-clear")
		Expect(err).NotTo(HaveOccurred())
		Expect(raw.Kvs).To(HaveLen(1))
		Expect(string(raw.Kvs[0].Value)).To(ContainSubstring(value))

		By("through the API, the Secret reads as it was written")
		got, err := admin.CoreV1().Secrets("default").Get(ctx, "at-rest", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(string(got.Data["password"])).To(Equal(value))

		By("the key is readable by root alone")
		st, err := os.Stat(lab.PKIPaths().EncryptionKey())
		Expect(err).NotTo(HaveOccurred())
		Expect(st.Mode().Perm()).To(Equal(os.FileMode(0o600)))
	}, SpecTimeout(time.Minute))
})

// etcdHealthFrom reads a member's /health from inside host, with tlsCfg.
func etcdHealthFrom(ctx context.Context, lab *harness.Lab, host, member string, tlsCfg *tls.Config) (string, error) {
	h, err := lab.Host(host)
	if err != nil {
		return "", err
	}
	tr := &http.Transport{DialContext: netns.DialContext(netns.Path(h.Netns)), TLSClientConfig: tlsCfg}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	url := "https://" + net.JoinHostPort(member, strconv.Itoa(harness.EtcdHTTPPort)) + "/health"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return "", fmt.Errorf("get %s from %s: %w", url, host, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(body), fmt.Errorf("get %s from %s: %s", url, host, resp.Status)
	}
	return strings.TrimSpace(string(body)), err
}
