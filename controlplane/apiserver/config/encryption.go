package config

import (
	"encoding/base64"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	"sigs.k8s.io/yaml"
)

// EncryptionKeyName names the one key of EncryptionConfig; it is written into
// every value it encrypts: k8s:enc:aescbc:v1:<name>:.
const EncryptionKeyName = "kinns"

// EncryptionConfig is the EncryptionConfiguration that has the API server
// keep Secrets in etcd encrypted with key (AES-CBC, 32 bytes), as
// k8s:enc:aescbc:v1:kinns:…, and still read Secrets stored in the clear
// (identity), e.g. before the key was set.
func EncryptionConfig(key []byte) ([]byte, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("encryption key of %d bytes, want 32 (AES-256)", len(key))
	}
	cfg := apiserverv1.EncryptionConfiguration{
		TypeMeta: metav1.TypeMeta{APIVersion: "apiserver.config.k8s.io/v1", Kind: "EncryptionConfiguration"},
		Resources: []apiserverv1.ResourceConfiguration{{
			Resources: []string{"secrets"},
			Providers: []apiserverv1.ProviderConfiguration{
				{AESCBC: &apiserverv1.AESConfiguration{Keys: []apiserverv1.Key{{
					Name: EncryptionKeyName, Secret: base64.StdEncoding.EncodeToString(key),
				}}}},
				{Identity: &apiserverv1.IdentityConfiguration{}},
			},
		}},
	}
	return yaml.Marshal(cfg)
}
