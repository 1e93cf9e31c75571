package pki

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/util/keyutil"
)

// Load reads a pki folder that Generate filled, for processes that only use it
// (the `lab kubeconfig` command, components). It finds the lab name in the CA's
// name and the nodes from the kubelet-<node>.crt files, and checks that every
// pair matches, chains to the CA and is valid now; it does not check SANs
// against a Config (Generate does). It never writes. It waits for a Generate in
// progress on the same folder, at most LoadTimeout.
func Load(dir string) (*Bundle, error) {
	ctx, cancel := context.WithTimeout(context.Background(), LoadTimeout)
	defer cancel()
	p := Paths{Dir: dir}
	unlock, err := rlockDir(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("load pki folder %q: %w", dir, err)
	}
	defer unlock()
	b, err := load(p, time.Now())
	if err != nil {
		return nil, fmt.Errorf("load pki folder %q: %w", dir, err)
	}
	return b, nil
}

// LoadTimeout bounds how long Load waits for a Generate of the same folder; a
// Generate takes milliseconds, so only a stuck (e.g. stopped) process hits it.
const LoadTimeout = 10 * time.Second

func load(p Paths, now time.Time) (*Bundle, error) {
	ca, err := readPair(p.CACert(), p.CAKey())
	if err != nil {
		return nil, err
	}
	lab, err := labOf(ca.Cert)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrInvalid, ca.CertFile, err)
	}
	sa, err := loadServiceAccount(p)
	if err != nil {
		return nil, err
	}
	nodes, err := nodesIn(p)
	if err != nil {
		return nil, err
	}
	b := newBundle(lab, p, ca, sa)
	if err := loadLeaves(b, ca, plan(Config{Lab: lab, Nodes: nodes}, p), now); err != nil {
		return nil, err
	}
	if err := loadEncryptionKey(b); err != nil {
		return nil, err
	}
	if err := loadFrontProxy(b, now); err != nil {
		return nil, err
	}
	return b, loadEtcd(b, now)
}

func loadLeaves(b *Bundle, ca *Pair, specs []leafSpec, now time.Time) error {
	for _, s := range specs {
		pair, err := loadLeaf(ca, s, now)
		if err != nil {
			return err
		}
		b.add(s, pair)
	}
	return nil
}

// loadEtcd loads the etcd CA and what it signed, for the members that have a
// serving certificate. A folder without an etcd CA (made before etcd took
// TLS) leaves b.Etcd nil.
func loadEtcd(b *Bundle, now time.Time) error {
	p := b.Paths
	ca, err := readPair(p.EtcdCACert(), p.EtcdCAKey())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	files, err := filepath.Glob(p.EtcdServerCert("*"))
	if err != nil {
		return err
	}
	var members []EtcdMember
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "server-"), ".crt")
		members = append(members, EtcdMember{Name: name})
	}
	if err := validateEtcdMembers(withIPs(members)); err != nil {
		return fmt.Errorf("%w %q: %v", ErrInvalid, p.EtcdDir(), err)
	}
	b.Etcd = newEtcdBundle(ca)
	return loadLeaves(b, ca, etcdPlan(members, p), now)
}

// withIPs gives members a placeholder address, for validating their names
// alone: Load does not check SANs.
func withIPs(members []EtcdMember) []EtcdMember {
	out := slices.Clone(members)
	for i := range out {
		out[i].IP = netip.IPv4Unspecified()
	}
	return out
}

func loadEncryptionKey(b *Bundle) error {
	key, err := readEncryptionKey(b.Paths.EncryptionKey())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	b.EncryptionKey, b.EncryptionKeyFile = key, b.Paths.EncryptionKey()
	return nil
}

func loadLeaf(ca *Pair, s leafSpec, now time.Time) (*Pair, error) {
	p, err := readPair(s.cert, s.key)
	if err != nil {
		return nil, err
	}
	if err := verifyLeaf(ca, p.Cert, s.usages, now); err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrInvalid, s.cert, err)
	}
	if m := s.identityMismatch(p.Cert); m != "" {
		return nil, fmt.Errorf("%w %q: %s", ErrInvalid, s.cert, m)
	}
	return p, nil
}

// nodesIn lists the nodes that have a kubelet serving certificate in p.
func nodesIn(p Paths) ([]Node, error) {
	files, err := filepath.Glob(p.KubeletCert("*"))
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	var nodes []Node
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), kubeletPrefix), ".crt")
		if err := validateNodeName(name); err != nil {
			return nil, fmt.Errorf("%w %q: %v", ErrInvalid, f, err)
		}
		nodes = append(nodes, Node{Name: name})
	}
	return nodes, nil
}

func loadServiceAccount(p Paths) (*ServiceAccountKey, error) {
	sa := &ServiceAccountKey{KeyFile: p.ServiceAccountKey(), PubFile: p.ServiceAccountPub()}
	var err error
	if sa.Key, sa.KeyPEM, err = readKey(sa.KeyFile); err != nil {
		return nil, err
	}
	if sa.PubPEM, err = encodePublicKey(sa.Key.Public()); err != nil {
		return nil, fmt.Errorf("encode %q: %w", sa.PubFile, err)
	}
	pubs, err := keyutil.PublicKeysFromFile(sa.PubFile)
	if err != nil {
		return nil, fmt.Errorf("read service account public key: %w", err)
	}
	if len(pubs) != 1 || !samePublic(sa.Key.Public(), pubs[0]) {
		return nil, fmt.Errorf("%w %q: %v", ErrInvalid, sa.PubFile, errors.New("not the public half of "+sa.KeyFile))
	}
	return sa, nil
}
