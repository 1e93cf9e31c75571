package pki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"
)

// Generate makes every certificate and key of the lab described by cfg under
// cfg.Dir, reusing those already there when they are still right: signed by the
// lab CA, matching cfg (names, SANs), and not in the last tenth of their life.
// Anything else is replaced, and the replacement logged, with two exceptions that
// are the lab's roots of trust: an unusable CA key (the lab's or etcd's), or a
// CA certificate without its key, an unusable sa.key and an unusable
// encryption.key are reported (errors matching ErrInvalid or fs.ErrNotExist)
// rather than silently replaced, since a new CA or token key invalidates every
// kubeconfig or token handed out before, and a new encryption key every Secret
// stored. A CA certificate that is missing, damaged or expiring is re-signed
// with the existing key, which keeps every existing certificate valid.
//
// Files of nodes no longer in cfg are left in place (Load still lists them);
// a lab's folder is removed as a whole when the lab is.
//
// Concurrent calls for one folder, from any process, are serialised by a lock
// file; ctx bounds the wait for it and the work.
func Generate(ctx context.Context, cfg Config) (*Bundle, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, dirMode); err != nil {
		return nil, fmt.Errorf("create pki folder %q: %w", cfg.Dir, err)
	}
	g := &generator{
		cfg:   cfg,
		paths: Paths{Dir: cfg.Dir},
		log:   cfg.Logger.With("component", "pki", "lab", cfg.Lab),
	}
	unlock, err := lockDir(ctx, g.paths)
	if err != nil {
		return nil, err
	}
	defer unlock()
	g.now = cfg.Now() // after the lock: another process may have held it a while
	return g.run(ctx)
}

type generator struct {
	cfg   Config
	paths Paths
	now   time.Time
	log   *slog.Logger
}

func (g *generator) run(ctx context.Context) (*Bundle, error) {
	ca, err := g.ensureCA(g.labCA())
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(g.paths.EtcdDir(), dirMode); err != nil {
		return nil, fmt.Errorf("create etcd pki folder: %w", err)
	}
	etcdCA, err := g.ensureCA(g.etcdCA())
	if err != nil {
		return nil, err
	}
	sa, err := g.ensureServiceAccount()
	if err != nil {
		return nil, err
	}
	b := newBundle(g.cfg.Lab, g.paths, ca, sa)
	b.Etcd = newEtcdBundle(etcdCA)
	if b.EncryptionKey, err = g.ensureEncryptionKey(); err != nil {
		return nil, err
	}
	b.EncryptionKeyFile = g.paths.EncryptionKey()
	if err := g.ensureFrontProxy(b); err != nil {
		return nil, err
	}
	if err := g.ensureLeaves(ctx, b, ca, plan(g.cfg, g.paths)); err != nil {
		return nil, err
	}
	return b, g.ensureLeaves(ctx, b, etcdCA, etcdPlan(g.cfg.EtcdMembers, g.paths))
}

func (g *generator) ensureLeaves(ctx context.Context, b *Bundle, ca *Pair, specs []leafSpec) error {
	for _, s := range specs {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("generate pki for lab %q: %w", g.cfg.Lab, err)
		}
		p, err := g.ensureLeaf(ca, s)
		if err != nil {
			return err
		}
		b.add(s, p)
	}
	return nil
}

// caSpec is one of the lab's CAs; fix says what to do when it is unusable.
type caSpec struct {
	what, cert, key, cn, fix string
}

func (g *generator) labCA() caSpec {
	return caSpec{what: "lab CA", cert: g.paths.CACert(), key: g.paths.CAKey(), cn: caName(g.cfg.Lab),
		fix: fmt.Sprintf("remove %q to start a new CA (every kubeconfig then needs rewriting)", g.cfg.Dir)}
}

func (g *generator) etcdCA() caSpec {
	return caSpec{what: "etcd CA", cert: g.paths.EtcdCACert(), key: g.paths.EtcdCAKey(), cn: etcdCAName(g.cfg.Lab),
		fix: fmt.Sprintf("remove %q to start a new etcd CA (every etcd member and API server then needs a restart)", g.paths.EtcdDir())}
}

// ensureCA loads the CA, makes it if neither file exists, or re-signs its
// certificate with the existing key (see Generate for why).
func (g *generator) ensureCA(c caSpec) (*Pair, error) {
	key, keyPEM, err := readKey(c.key)
	if errors.Is(err, fs.ErrNotExist) {
		if _, statErr := os.Stat(c.cert); statErr == nil {
			return nil, fmt.Errorf("%s key %q is missing but %q exists, so nothing can be signed: %s: %w", c.what, c.key, c.cert, c.fix, err)
		}
		return g.newCA(c)
	}
	if err != nil {
		return nil, fmt.Errorf("%s cannot be used: %w: %s", c.what, err, c.fix)
	}
	ca := &Pair{Key: key, KeyPEM: keyPEM, CertFile: c.cert, KeyFile: c.key}
	cert, certPEM, err := readCert(c.cert)
	if err == nil {
		err = g.usableCA(c, cert, key)
	}
	if err == nil {
		ca.Cert, ca.CertPEM = cert, certPEM
		return ca, nil
	}
	g.log.Info("re-signing the "+c.what+" certificate with its existing key", "file", c.cert, "reason", err)
	return ca, g.signCA(c, ca)
}

func (g *generator) usableCA(s caSpec, c *x509.Certificate, key crypto.Signer) error {
	if err := matchKey(c, key); err != nil {
		return err
	}
	if !c.IsCA || c.Subject.CommonName != s.cn {
		return fmt.Errorf("not the CA %q", s.cn)
	}
	if g.now.Before(c.NotBefore) {
		return fmt.Errorf("not valid before %s", c.NotBefore.Format(time.RFC3339))
	}
	return dueForRenewal(c, g.now)
}

func (g *generator) newCA(c caSpec) (*Pair, error) {
	ca, err := newPair(c.cert, c.key, func(key crypto.Signer) (*x509.Certificate, error) {
		return selfSignCA(key, c.cn, g.now, g.cfg.CAValidity)
	})
	if err != nil {
		return nil, fmt.Errorf("make %s: %w", c.what, err)
	}
	return ca, writePair(ca, durable)
}

func (g *generator) signCA(c caSpec, ca *Pair) error {
	cert, err := selfSignCA(ca.Key, c.cn, g.now, g.cfg.CAValidity)
	if err != nil {
		return fmt.Errorf("re-sign %s: %w", c.what, err)
	}
	ca.Cert, ca.CertPEM = cert, encodeCert(cert)
	return writeFile(ca.CertFile, ca.CertPEM, certMode, durable)
}

// ensureLeaf returns the pair for s, reusing the files if they are right.
func (g *generator) ensureLeaf(ca *Pair, s leafSpec) (*Pair, error) {
	p, err := readPair(s.cert, s.key)
	if err == nil {
		err = g.usableLeaf(ca, s, p.Cert)
	}
	if err == nil {
		return p, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		g.log.Info("replacing "+s.what, "file", s.cert, "reason", err)
	}
	p, err = newPair(s.cert, s.key, func(key crypto.Signer) (*x509.Certificate, error) {
		return issue(ca, s, key, g.now, g.cfg.Validity)
	})
	if err != nil {
		return nil, fmt.Errorf("make %s: %w", s.what, err)
	}
	return p, writePair(p, regenerable)
}

func (g *generator) usableLeaf(ca *Pair, s leafSpec, c *x509.Certificate) error {
	if err := verifyLeaf(ca, c, s.usages, g.now); err != nil {
		return err
	}
	if err := dueForRenewal(c, g.now); err != nil {
		return err
	}
	if m := s.mismatch(c); m != "" {
		return errors.New(m)
	}
	return nil
}

// ensureServiceAccount loads or makes the token signing key, and rewrites sa.pub
// whenever it is not exactly the public half of sa.key.
func (g *generator) ensureServiceAccount() (*ServiceAccountKey, error) {
	keyFile := g.paths.ServiceAccountKey()
	key, keyPEM, err := readKey(keyFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if key, keyPEM, err = g.newServiceAccountKey(); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("service account key cannot be used: %w: remove it to make a new one (tokens signed with it then stop working)", err)
	}
	sa := &ServiceAccountKey{Key: key, KeyPEM: keyPEM, KeyFile: keyFile, PubFile: g.paths.ServiceAccountPub()}
	if sa.PubPEM, err = encodePublicKey(key.Public()); err != nil {
		return nil, fmt.Errorf("encode %q: %w", sa.PubFile, err)
	}
	if old, err := os.ReadFile(sa.PubFile); err == nil && bytes.Equal(old, sa.PubPEM) {
		return sa, nil
	}
	return sa, writeFile(sa.PubFile, sa.PubPEM, certMode, durable)
}

func (g *generator) newServiceAccountKey() (crypto.Signer, []byte, error) {
	keyFile := g.paths.ServiceAccountKey()
	key, keyPEM, err := newKeyPEM()
	if err != nil {
		return nil, nil, fmt.Errorf("make service account key %q: %w", keyFile, err)
	}
	return key, keyPEM, writeFile(keyFile, keyPEM, keyMode, durable)
}

func encodePublicKey(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
