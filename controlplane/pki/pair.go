package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"time"

	"k8s.io/client-go/util/keyutil"
)

// ErrInvalid marks a pki file that exists but cannot be used: unreadable PEM, a
// key that does not match its certificate, a certificate the CA did not sign.
var ErrInvalid = errors.New("invalid pki file")

// Pair is a certificate with its private key, as parsed and as stored.
type Pair struct {
	Cert     *x509.Certificate
	Key      crypto.Signer
	CertPEM  []byte
	KeyPEM   []byte
	CertFile string
	KeyFile  string
}

// TLSCertificate is p ready for a tls.Config.
func (p *Pair) TLSCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{p.Cert.Raw}, PrivateKey: p.Key, Leaf: p.Cert}
}

// backdate keeps a fresh certificate valid for a verifier whose clock lags a little.
const backdate = time.Minute

// newKey makes a key pair. ECDSA P-256 is accepted by every Kubernetes component
// and is fast enough that a whole lab's pki takes milliseconds.
func newKey() (crypto.Signer, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

func newSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// selfSignCA makes the CA certificate for key. Re-signing the same key with the
// same name yields a CA that still verifies every leaf it signed before.
func selfSignCA(key crypto.Signer, cn string, now time.Time, validity time.Duration) (*x509.Certificate, error) {
	t := &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	return sign(t, t, key.Public(), key)
}

// issue signs a new certificate for spec s and key with ca, ending no later than ca.
func issue(ca *Pair, s leafSpec, key crypto.Signer, now time.Time, validity time.Duration) (*x509.Certificate, error) {
	t := s.template()
	t.NotBefore = now.Add(-backdate)
	t.NotAfter = now.Add(validity)
	if t.NotAfter.After(ca.Cert.NotAfter) {
		t.NotAfter = ca.Cert.NotAfter
	}
	return sign(t, ca.Cert, key.Public(), ca.Key)
}

func sign(t, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, fmt.Errorf("make serial number: %w", err)
	}
	t.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, t, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("sign certificate %q: %w", t.Subject.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

// newPair makes a fresh key and has makeCert certify it.
func newPair(certFile, keyFile string, makeCert func(crypto.Signer) (*x509.Certificate, error)) (*Pair, error) {
	key, keyPEM, err := newKeyPEM()
	if err != nil {
		return nil, fmt.Errorf("make key %q: %w", keyFile, err)
	}
	c, err := makeCert(key)
	if err != nil {
		return nil, err
	}
	return &Pair{Cert: c, Key: key, CertPEM: encodeCert(c), KeyPEM: keyPEM, CertFile: certFile, KeyFile: keyFile}, nil
}

func newKeyPEM() (crypto.Signer, []byte, error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	return key, keyPEM, err
}

func encodeCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// readPair reads and parses a pair from disk. A missing file gives an error that
// matches fs.ErrNotExist; anything unusable gives one that matches ErrInvalid.
func readPair(certFile, keyFile string) (*Pair, error) {
	key, keyPEM, err := readKey(keyFile)
	if err != nil {
		return nil, err
	}
	c, certPEM, err := readCert(certFile)
	if err != nil {
		return nil, err
	}
	if err := matchKey(c, key); err != nil {
		return nil, fmt.Errorf("%w %q: %v (key %q)", ErrInvalid, certFile, err, keyFile)
	}
	return &Pair{Cert: c, Key: key, CertPEM: certPEM, KeyPEM: keyPEM, CertFile: certFile, KeyFile: keyFile}, nil
}

func readCert(file string) (*x509.Certificate, []byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, fmt.Errorf("read certificate: %w", err)
	}
	c, err := parseCert(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%w %q: %v", ErrInvalid, file, err)
	}
	return c, data, nil
}

func parseCert(data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return x509.ParseCertificate(block.Bytes)
}

func readKey(file string) (crypto.Signer, []byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, fmt.Errorf("read private key: %w", err)
	}
	k, err := keyutil.ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%w %q: %v", ErrInvalid, file, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("%w %q: key of type %T cannot sign", ErrInvalid, file, k)
	}
	return signer, data, nil
}

// samePublic reports whether a and b are the same public key. Every key type Go
// parses has an Equal method.
func samePublic(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

func matchKey(c *x509.Certificate, key crypto.Signer) error {
	if !samePublic(key.Public(), c.PublicKey) {
		return errors.New("private key does not match the certificate")
	}
	return nil
}
