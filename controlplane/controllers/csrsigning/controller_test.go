package csrsigning

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	"github.com/kinns/kinns/controlplane/controllers/internal/fakeapi"
)

// writeCA writes a self-signed CA's certificate and key into dir.
func writeCA(t *testing.T, dir string) (certFile, keyFile string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	write := func(path, typ string, b []byte) {
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(certFile, "CERTIFICATE", der)
	write(keyFile, "EC PRIVATE KEY", kder)
	return certFile, keyFile
}

func approvedCSR(t *testing.T) *certv1.CertificateSigningRequest {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "alice"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return &certv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "alice"},
		Spec: certv1.CertificateSigningRequestSpec{
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName: certv1.KubeAPIServerClientSignerName,
			Usages:     []certv1.KeyUsage{certv1.UsageDigitalSignature, certv1.UsageClientAuth}},
		Status: certv1.CertificateSigningRequestStatus{Conditions: []certv1.CertificateSigningRequestCondition{
			{Type: certv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "Test"}}}}
}

// TestApprovedClientRequestIsSigned: an approved request for a client of
// the API server gets a certificate the CA signed.
func TestApprovedClientRequestIsSigned(t *testing.T) {
	certFile, keyFile := writeCA(t, t.TempDir())
	client := fakeapi.Client(approvedCSR(t))
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(deps.Deps{Client: client, Factory: factory}, Options{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	fakeapi.Run(t, factory, c, 1)
	var got *certv1.CertificateSigningRequest
	fakeapi.Eventually(t, "a signed certificate", func(ctx context.Context) bool {
		got, _ = client.CertificatesV1().CertificateSigningRequests().Get(ctx, "alice", metav1.GetOptions{})
		return len(got.Status.Certificate) > 0
	})
	block, _ := pem.Decode(got.Status.Certificate)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil || cert.Subject.CommonName != "alice" || cert.Issuer.CommonName != "test-ca" {
		t.Fatalf("certificate %v (err %v): want CN alice issued by test-ca", cert.Subject, err)
	}
}

func TestNewWantsTheCA(t *testing.T) {
	client := fakeapi.Client()
	if _, err := New(deps.Deps{Client: client, Factory: informers.NewSharedInformerFactory(client, 0)}, Options{}); err == nil {
		t.Error("New without a CA: no error")
	}
}
