package podinputs

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"

	certificatesv1 "k8s.io/api/certificates/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// errNoTrustBundle is upstream's error for a signerName and labelSelector
// that match no ClusterTrustBundle of a projection that is not optional.
var errNoTrustBundle = errors.New("combination of signerName and labelSelector matched zero ClusterTrustBundles")

// trustBundles reads ClusterTrustBundles (certificates.k8s.io/v1), which
// the Node authorizer lets every node get and list.
type trustBundles interface {
	get(ctx context.Context, name string) (*certificatesv1.ClusterTrustBundle, error)
	list(ctx context.Context, labelSelector string) ([]certificatesv1.ClusterTrustBundle, error)
}

// trustAnchors is a clusterTrustBundle projection's file, as upstream's
// kubelet writes it: the certificates of the bundle named, or of every
// bundle of the signer whose labels match (a nil selector matches none, an
// empty one all), each once, as PEM. An optional projection with nothing
// to show is an empty file.
func trustAnchors(ctx context.Context, src trustBundles, p *v1.ClusterTrustBundleProjection) ([]byte, error) {
	optional := isOptional(p.Optional)
	var bundles []certificatesv1.ClusterTrustBundle
	switch {
	case p.Name != nil:
		ctb, err := src.get(ctx, *p.Name)
		if apierrors.IsNotFound(err) && optional {
			return []byte{}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("while getting ClusterTrustBundle: %w", err)
		}
		bundles = append(bundles, *ctb)
	case p.SignerName != nil:
		sel, err := metav1.LabelSelectorAsSelector(p.LabelSelector)
		if err != nil {
			return nil, fmt.Errorf("while parsing label selector: %w", err)
		}
		if p.LabelSelector != nil { // nil: match nothing
			all, err := src.list(ctx, sel.String())
			if err != nil {
				return nil, fmt.Errorf("while listing ClusterTrustBundles matching label selector %v: %w", sel, err)
			}
			for _, ctb := range all {
				if ctb.Spec.SignerName == *p.SignerName {
					bundles = append(bundles, ctb)
				}
			}
		}
		if len(bundles) == 0 {
			if optional {
				return []byte{}, nil
			}
			return nil, errNoTrustBundle
		}
	}
	return normalizeAnchors(bundles), nil
}

// normalizeAnchors re-encodes the bundles' certificates, each once, in a
// stable order (upstream's order is stable too, though shuffled per kubelet).
func normalizeAnchors(bundles []certificatesv1.ClusterTrustBundle) []byte {
	var ders []string
	for _, ctb := range bundles {
		rest := []byte(ctb.Spec.TrustBundle)
		for {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil {
				break
			}
			ders = append(ders, string(b.Bytes))
		}
	}
	slices.Sort(ders)
	out := []byte{}
	for _, der := range slices.Compact(ders) {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte(der)})...)
	}
	return out
}

// apiTrustBundles reads ClusterTrustBundles from the API.
type apiTrustBundles struct{ in *Inputs }

func (s apiTrustBundles) get(ctx context.Context, name string) (*certificatesv1.ClusterTrustBundle, error) {
	return s.in.client.CertificatesV1().ClusterTrustBundles().Get(ctx, name, metav1.GetOptions{})
}

func (s apiTrustBundles) list(ctx context.Context, labelSelector string) ([]certificatesv1.ClusterTrustBundle, error) {
	l, err := s.in.client.CertificatesV1().ClusterTrustBundles().List(ctx, metav1.ListOptions{LabelSelector: labelSelector})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}
