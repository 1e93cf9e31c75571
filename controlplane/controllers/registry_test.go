package controllers

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	"k8s.io/client-go/metadata/metadatainformer"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
)

// TestEveryRowBuilds builds each controller of the table from a valid
// configuration, as the manager does before it starts the informers.
func TestEveryRowBuilds(t *testing.T) {
	cfg := Config{Kubeconfig: "/k", DNSServers: []string{"10.89.0.12"}}
	cfg.Defaults()
	client := fake.NewClientset()
	meta := metadatafake.NewSimpleMetadataClient(runtime.NewScheme())
	e := env{
		Deps: deps.Deps{Client: client, Factory: informers.NewSharedInformerFactory(client, 0)},
		cfg:  cfg, meta: meta, metaInf: metadatainformer.NewSharedInformerFactory(meta, 0),
		started: make(chan struct{}), rootCA: []byte("-----BEGIN CERTIFICATE-----\n"),
	}
	for _, s := range specs {
		if r, err := s.build(e); err != nil || r == nil {
			t.Errorf("%s: %v", s.name, err)
		}
	}
}

// TestEveryRowActsAsAServiceAccount: each controller writes as an upstream
// kube-system ServiceAccount, and no two rows share a name.
func TestEveryRowActsAsAServiceAccount(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range specs {
		if s.account == "" {
			t.Errorf("%s: no ServiceAccount", s.name)
		}
		if seen[s.name] {
			t.Errorf("%s: two rows", s.name)
		}
		seen[s.name] = true
	}
}
