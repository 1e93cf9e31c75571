package csrapproving

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	"github.com/kinns/kinns/controlplane/controllers/internal/fakeapi"
)

// nodeCSR is node-1's request for a new client certificate, made by
// node-1 itself.
func nodeCSR(t *testing.T) *certv1.CertificateSigningRequest {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "system:node:node-1", Organization: []string{"system:nodes"}}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return &certv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "node-1-client"},
		Spec: certv1.CertificateSigningRequestSpec{
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName: certv1.KubeAPIServerClientKubeletSignerName,
			Usages:     []certv1.KeyUsage{certv1.UsageDigitalSignature, certv1.UsageClientAuth},
			Username:   "system:node:node-1", Groups: []string{"system:nodes", "system:authenticated"}}}
}

// TestNodeRenewalIsApproved: a node's own client certificate request is
// approved when the API server says it may ask for one (the
// SubjectAccessReview, answered here by a reactor).
func TestNodeRenewalIsApproved(t *testing.T) {
	client := fakeapi.Client(nodeCSR(t))
	client.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview).DeepCopy()
		sar.Status.Allowed = sar.Spec.ResourceAttributes.Subresource == "selfnodeclient"
		return true, sar, nil
	})
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(deps.Deps{Client: client, Factory: factory}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fakeapi.Run(t, factory, c, 1)
	fakeapi.Eventually(t, "the request approved", func(ctx context.Context) bool {
		got, _ := client.CertificatesV1().CertificateSigningRequests().Get(ctx, "node-1-client", metav1.GetOptions{})
		for _, c := range got.Status.Conditions {
			if c.Type == certv1.CertificateApproved && c.Status == corev1.ConditionTrue {
				return true
			}
		}
		return false
	})
}
