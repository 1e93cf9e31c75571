package specs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/kinns/kinns/controlplane/pki"
	"github.com/kinns/kinns/harness"
)

var Webhooks = Label("webhooks")

// webhookTLS is a CA and a serving certificate for a webhook Service, as a
// webhook's author makes them: the API server dials the Service's endpoint
// but checks the certificate for NAME.NAMESPACE.svc.
type webhookTLS struct {
	caPEM, certPEM, keyPEM []byte
}

func newWebhookTLS(dnsName string) webhookTLS {
	GinkgoHelper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	Expect(err).NotTo(HaveOccurred())
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "webhook-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	Expect(err).NotTo(HaveOccurred())
	caCert, err := x509.ParseCertificate(caDER)
	Expect(err).NotTo(HaveOccurred())
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	Expect(err).NotTo(HaveOccurred())
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: dnsName}, DNSNames: []string{dnsName},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	Expect(err).NotTo(HaveOccurred())
	keyDER, err := x509.MarshalECPrivateKey(key)
	Expect(err).NotTo(HaveOccurred())
	return webhookTLS{
		caPEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}
}

// webhookPod runs `testapp webhook` with the serving certificate of Secret
// secret, ready once it answers on HTTPS.
func webhookPod(name, secret string, args ...string) *corev1.Pod {
	p := testPod(name, append([]string{"webhook"}, args...)...)
	c := &p.Spec.Containers[0]
	c.Ports = []corev1.ContainerPort{{Name: "https", ContainerPort: 8443}}
	c.ReadinessProbe = &corev1.Probe{PeriodSeconds: 1, ProbeHandler: corev1.ProbeHandler{
		HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8443), Scheme: corev1.URISchemeHTTPS}}}
	c.VolumeMounts = []corev1.VolumeMount{{Name: "tls", MountPath: "/etc/webhook", ReadOnly: true}}
	p.Spec.Volumes = []corev1.Volume{{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret}}}}
	return p
}

// serviceTo is a ClusterIP Service on port 443 to the pods app=app, port 8443.
func serviceTo(name, app string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": app},
			Ports: []corev1.ServicePort{{Port: 443, TargetPort: intstr.FromInt32(8443)}}},
	}
}

func hookClient(svc, path string, ca []byte) admissionv1.WebhookClientConfig {
	port := int32(443)
	return admissionv1.WebhookClientConfig{CABundle: ca,
		Service: &admissionv1.ServiceReference{Namespace: "default", Name: svc, Path: &path, Port: &port}}
}

// webhookOn is a webhook on creates and updates of ConfigMaps that carry the
// label key, failing closed.
func webhookOn(name, key string, client admissionv1.WebhookClientConfig) (admissionv1.ValidatingWebhook, admissionv1.MutatingWebhook) {
	fail, none := admissionv1.Fail, admissionv1.SideEffectClassNone
	timeout := int32(10)
	rules := []admissionv1.RuleWithOperations{{
		Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
		Rule:       admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}},
	}}
	sel := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: key, Operator: metav1.LabelSelectorOpExists}}}
	return admissionv1.ValidatingWebhook{Name: name, ClientConfig: client, Rules: rules, ObjectSelector: sel,
			FailurePolicy: &fail, SideEffects: &none, TimeoutSeconds: &timeout, AdmissionReviewVersions: []string{"v1"}},
		admissionv1.MutatingWebhook{Name: name, ClientConfig: client, Rules: rules, ObjectSelector: sel,
			FailurePolicy: &fail, SideEffects: &none, TimeoutSeconds: &timeout, AdmissionReviewVersions: []string{"v1"}}
}

func labelledConfigMap(name string, labels map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

// freshClient is an admin clientset on a connection of its own: the balancer
// in front of the API servers hands each new connection to the next one.
func freshClient(lab *harness.Lab) kubernetes.Interface {
	GinkgoHelper()
	rc, err := lab.RESTConfig()
	Expect(err).NotTo(HaveOccurred())
	rc.Dial = (&net.Dialer{}).DialContext // not cacheable: a transport of its own
	rc.QPS, rc.Burst = -1, 0
	cs, err := kubernetes.NewForConfig(rc)
	Expect(err).NotTo(HaveOccurred())
	return cs
}

// callers are the hosts whose addresses the webhook pod logged calls from.
func callers(ctx context.Context, cs kubernetes.Interface, pod string, lab *harness.Lab) []string {
	GinkgoHelper()
	raw, err := cs.CoreV1().Pods("default").GetLogs(pod, &corev1.PodLogOptions{}).DoRaw(ctx)
	Expect(err).NotTo(HaveOccurred())
	var hosts []string
	for _, h := range []string{"cp-1", "cp-2", "cp-3"} {
		if strings.Contains(string(raw), "from="+nodeIP(lab, h)+" ") {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

var _ = Describe("Webhooks and API extensions", Webhooks, func() {
	It("[issue 16] calls admission and conversion webhooks and an aggregated API served by a pod behind a Service, from every API server, over TLS", func(ctx SpecContext) {
		lab := bootHALab(ctx, 2)
		cs := clientAs(lab, pki.Admin)
		certs := newWebhookTLS("hook.default.svc")

		By("a webhook pod serves its Secret's certificate behind Service hook")
		sec, err := cs.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "hook-tls"}, Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{corev1.TLSCertKey: certs.certPEM, corev1.TLSPrivateKeyKey: certs.keyPEM},
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) { cs.CoreV1().Secrets("default").Delete(ctx, sec.Name, metav1.DeleteOptions{}) })
		copyFrontProxyCA(ctx, cs)
		hook := webhookPod("hook", "hook-tls", "--deny-label", "webhook=deny", "--add-label", "kinns.io/mutated=yes",
			"--requestheader-ca-file", "/etc/front-proxy/ca.crt")
		hook.Spec.Volumes = append(hook.Spec.Volumes, corev1.Volume{Name: "front-proxy", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "front-proxy-ca"}}}})
		hook.Spec.Containers[0].VolumeMounts = append(hook.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "front-proxy", MountPath: "/etc/front-proxy"})
		create(ctx, cs, hook)
		createService(ctx, cs, serviceTo("hook", "hook"))
		waitFor(ctx, cs, "hook", 60*time.Second, beReady)
		waitEndpoints(ctx, cs, "hook", 1)

		By("validating and mutating webhooks on labelled ConfigMaps, and one whose Service has no endpoints")
		createService(ctx, cs, serviceTo("nohook", "nothing-has-this-label"))
		v, m := webhookOn("hook.kinns.io", "webhook", hookClient("hook", "/validate", certs.caPEM))
		vDown, _ := webhookOn("nohook.kinns.io", "webhook-down", hookClient("nohook", "/validate", certs.caPEM))
		m.ClientConfig = hookClient("hook", "/mutate", certs.caPEM)
		vwc, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, &admissionv1.ValidatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: "hook"}, Webhooks: []admissionv1.ValidatingWebhook{v, vDown}}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) {
			cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(ctx, vwc.Name, metav1.DeleteOptions{})
		})
		mwc, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, &admissionv1.MutatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: "hook"}, Webhooks: []admissionv1.MutatingWebhook{m}}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) {
			cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(ctx, mwc.Name, metav1.DeleteOptions{})
		})

		By("through each API server in turn, a labelled create is denied and an allowed one mutated")
		Eventually(func(g Gomega) {
			fresh := freshClient(lab)
			_, err := fresh.CoreV1().ConfigMaps("default").Create(ctx, labelledConfigMap("denied", map[string]string{"webhook": "deny"}), metav1.CreateOptions{})
			g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "create labelled webhook=deny: %v", err)
			g.Expect(err.Error()).To(ContainSubstring(`testapp webhook denies create`))
			allowed := labelledConfigMap("", map[string]string{"webhook": "allow"})
			allowed.GenerateName = "allowed-"
			got, err := fresh.CoreV1().ConfigMaps("default").Create(ctx, allowed, metav1.CreateOptions{})
			if err == nil {
				got, err = fresh.CoreV1().ConfigMaps("default").Get(ctx, got.Name, metav1.GetOptions{})
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got.Labels).To(HaveKeyWithValue("kinns.io/mutated", "yes"))
			g.Expect(callers(ctx, cs, "hook", lab)).To(ConsistOf("cp-1", "cp-2", "cp-3"), "API servers that called the webhook")
		}).WithContext(ctx).WithTimeout(60 * time.Second).WithPolling(500 * time.Millisecond).Should(Succeed())

		By("a stock kubectl sees the denial as a user would")
		out, err := kubectl(ctx, lab, "create", "configmap", "plain")
		Expect(err).NotTo(HaveOccurred(), out)
		out, err = kubectl(ctx, lab, "label", "configmap", "plain", "webhook=deny")
		Expect(err).To(HaveOccurred(), out)
		Expect(out).To(ContainSubstring(`admission webhook "hook.kinns.io" denied the request: testapp webhook denies update "plain"`))

		By("a webhook whose Service has no ready endpoint fails closed with the API server's error")
		_, err = cs.CoreV1().ConfigMaps("default").Create(ctx, labelledConfigMap("down", map[string]string{"webhook-down": "1"}), metav1.CreateOptions{})
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(And(ContainSubstring(`failed calling webhook "nohook.kinns.io"`), ContainSubstring(`no endpoints available for service "nohook"`)))

		By("a CRD whose versions are converted by the webhook: a v1 object read as v2 went through it")
		expectConversionByWebhook(ctx, lab, certs.caPEM)

		By("an APIService backed by the pod: the aggregator proxies to it with the front proxy certificate and names the caller")
		expectAggregatedAPI(ctx, lab, certs.caPEM)
	}, SpecTimeout(5*time.Minute))
})

var widgets = schema.GroupResource{Group: "webhook.kinns.io", Resource: "widgets"}

func widgetsAt(version string) schema.GroupVersionResource { return widgets.WithVersion(version) }

func expectConversionByWebhook(ctx context.Context, lab *harness.Lab, ca []byte) {
	GinkgoHelper()
	rc, err := lab.RESTConfig()
	Expect(err).NotTo(HaveOccurred())
	ext, err := apiextclient.NewForConfig(rc)
	Expect(err).NotTo(HaveOccurred())
	dyn, err := dynamic.NewForConfig(rc)
	Expect(err).NotTo(HaveOccurred())
	path, port := "/convert", int32(443)
	preserve := true
	schemaOf := &apiextv1.CustomResourceValidation{OpenAPIV3Schema: &apiextv1.JSONSchemaProps{Type: "object", XPreserveUnknownFields: &preserve}}
	crd := &apiextv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: widgets.Resource + "." + widgets.Group},
		Spec: apiextv1.CustomResourceDefinitionSpec{
			Group: widgets.Group, Scope: apiextv1.NamespaceScoped,
			Names: apiextv1.CustomResourceDefinitionNames{Plural: "widgets", Singular: "widget", Kind: "Widget", ListKind: "WidgetList"},
			Versions: []apiextv1.CustomResourceDefinitionVersion{
				{Name: "v1", Served: true, Storage: true, Schema: schemaOf},
				{Name: "v2", Served: true, Schema: schemaOf},
			},
			Conversion: &apiextv1.CustomResourceConversion{Strategy: apiextv1.WebhookConverter, Webhook: &apiextv1.WebhookConversion{
				ConversionReviewVersions: []string{"v1"},
				ClientConfig: &apiextv1.WebhookClientConfig{CABundle: ca,
					Service: &apiextv1.ServiceReference{Namespace: "default", Name: "hook", Path: &path, Port: &port}},
			}},
		},
	}
	_, err = ext.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx SpecContext) {
		ext.ApiextensionsV1().CustomResourceDefinitions().Delete(ctx, crd.Name, metav1.DeleteOptions{})
	})
	w := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": widgets.Group + "/v1", "kind": "Widget",
		"metadata": map[string]any{"name": "w"}, "spec": map[string]any{"size": int64(3)},
	}}
	Eventually(func() error {
		_, err := dyn.Resource(widgetsAt("v1")).Namespace("default").Create(ctx, w, metav1.CreateOptions{})
		return err
	}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())
	Eventually(func(g Gomega) {
		got, err := dyn.Resource(widgetsAt("v2")).Namespace("default").Get(ctx, "w", metav1.GetOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(got.GetAPIVersion()).To(Equal(widgets.Group + "/v2"))
		g.Expect(got.GetAnnotations()).To(HaveKeyWithValue("testapp.kinns.io/converted-from", widgets.Group+"/v1"))
		size, _, _ := unstructured.NestedInt64(got.Object, "spec", "size")
		g.Expect(size).To(Equal(int64(3)))
	}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())
	out, err := kubectl(ctx, lab, "get", "widgets.v2."+widgets.Group, "w", "-o", "jsonpath={.apiVersion} {.metadata.annotations}")
	Expect(err).NotTo(HaveOccurred(), out)
	Expect(out).To(And(HavePrefix(widgets.Group+"/v2 "), ContainSubstring("converted-from")))
}

// copyFrontProxyCA puts the CA that the API server publishes for extension
// API servers (kube-system/extension-apiserver-authentication) into
// default/front-proxy-ca, key ca.crt, for the webhook pod to mount.
func copyFrontProxyCA(ctx context.Context, cs kubernetes.Interface) {
	GinkgoHelper()
	auth, err := cs.CoreV1().ConfigMaps("kube-system").Get(ctx, "extension-apiserver-authentication", metav1.GetOptions{})
	Expect(err).NotTo(HaveOccurred())
	ca := auth.Data["requestheader-client-ca-file"]
	Expect(ca).To(ContainSubstring("BEGIN CERTIFICATE"), "the API server publishes no front proxy CA")
	Expect(auth.Data["requestheader-allowed-names"]).To(ContainSubstring(pki.FrontProxyClientCN))
	_, err = cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "front-proxy-ca"}, Data: map[string]string{"ca.crt": ca}}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx SpecContext) {
		cs.CoreV1().ConfigMaps("default").Delete(ctx, "front-proxy-ca", metav1.DeleteOptions{})
	})
}

var apiServices = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}

func expectAggregatedAPI(ctx context.Context, lab *harness.Lab, ca []byte) {
	GinkgoHelper()
	rc, err := lab.RESTConfig()
	Expect(err).NotTo(HaveOccurred())
	dyn, err := dynamic.NewForConfig(rc)
	Expect(err).NotTo(HaveOccurred())
	svc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
		"metadata": map[string]any{"name": "v1.whoami.kinns.io"},
		"spec": map[string]any{
			"group": "whoami.kinns.io", "version": "v1", "groupPriorityMinimum": int64(1000), "versionPriority": int64(15),
			"caBundle": base64.StdEncoding.EncodeToString(ca),
			"service":  map[string]any{"namespace": "default", "name": "hook", "port": int64(443)},
		},
	}}
	_, err = dyn.Resource(apiServices).Create(ctx, svc, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx SpecContext) { dyn.Resource(apiServices).Delete(ctx, svc.GetName(), metav1.DeleteOptions{}) })
	Eventually(func(g Gomega) {
		got, err := dyn.Resource(apiServices).Get(ctx, svc.GetName(), metav1.GetOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
		g.Expect(conds).To(ContainElement(And(HaveKeyWithValue("type", "Available"), HaveKeyWithValue("status", "True"))), "APIService conditions")
	}).WithContext(ctx).WithTimeout(60 * time.Second).Should(Succeed())
	var out string
	Eventually(func() error {
		out, err = kubectl(ctx, lab, "get", "--raw", "/apis/whoami.kinns.io/v1/whoami")
		return err
	}).WithContext(ctx).WithTimeout(30*time.Second).Should(Succeed(), "kubectl get --raw: %s", out)
	Expect(out).To(And(ContainSubstring(`"user":"kinns-admin"`), ContainSubstring("system:masters")))
}
