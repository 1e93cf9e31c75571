package podinputs

import (
	"context"
	"encoding/pem"
	"errors"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
)

type fakeBundles []certificatesv1.ClusterTrustBundle

func (f fakeBundles) get(_ context.Context, name string) (*certificatesv1.ClusterTrustBundle, error) {
	for i := range f {
		if f[i].Name == name {
			return &f[i], nil
		}
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Group: "certificates.k8s.io", Resource: "clustertrustbundles"}, name)
}

func (f fakeBundles) list(_ context.Context, selector string) ([]certificatesv1.ClusterTrustBundle, error) {
	sel, err := labels.Parse(selector)
	if err != nil {
		return nil, err
	}
	var out []certificatesv1.ClusterTrustBundle
	for _, ctb := range f {
		if sel.Matches(labels.Set(ctb.Labels)) {
			out = append(out, ctb)
		}
	}
	return out, nil
}

func certPEM(s string) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte(s)}))
}

func TestTrustAnchors(t *testing.T) {
	ctb := func(name, signer string, alive string, certs ...string) certificatesv1.ClusterTrustBundle {
		c := certificatesv1.ClusterTrustBundle{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"alive": alive}},
			Spec: certificatesv1.ClusterTrustBundleSpec{SignerName: signer}}
		for _, s := range certs {
			c.Spec.TrustBundle += certPEM(s)
		}
		return c
	}
	src := fakeBundles{
		ctb("plain", "", "true", "b", "a"),
		ctb("one-1", "x.io/one", "true", "c"),
		ctb("one-2", "x.io/one", "false", "d", "c"),
		ctb("two-1", "x.io/two", "true", "e"),
	}
	alive := &metav1.LabelSelector{MatchLabels: map[string]string{"alive": "true"}}
	for _, tc := range []struct {
		name string
		p    v1.ClusterTrustBundleProjection
		want string // certificates, or "error"
	}{
		{"by name", v1.ClusterTrustBundleProjection{Name: ptr.To("plain")}, certPEM("a") + certPEM("b")},
		{"missing name", v1.ClusterTrustBundleProjection{Name: ptr.To("none")}, "error"},
		{"missing name, optional", v1.ClusterTrustBundleProjection{Name: ptr.To("none"), Optional: ptr.To(true)}, ""},
		{"signer and labels", v1.ClusterTrustBundleProjection{SignerName: ptr.To("x.io/one"), LabelSelector: alive}, certPEM("c")},
		{"signer, empty selector: all, once each", v1.ClusterTrustBundleProjection{SignerName: ptr.To("x.io/one"), LabelSelector: &metav1.LabelSelector{}},
			certPEM("c") + certPEM("d")},
		{"signer, nil selector: none", v1.ClusterTrustBundleProjection{SignerName: ptr.To("x.io/one")}, "error"},
		{"signer, nil selector, optional", v1.ClusterTrustBundleProjection{SignerName: ptr.To("x.io/one"), Optional: ptr.To(true)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := trustAnchors(context.Background(), src, &tc.p)
			if tc.want == "error" {
				if err == nil {
					t.Fatalf("no error, got %q", got)
				}
				if tc.p.SignerName != nil && !errors.Is(err, errNoTrustBundle) {
					t.Errorf("error %v", err)
				}
				return
			}
			if err != nil || string(got) != tc.want || got == nil {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
