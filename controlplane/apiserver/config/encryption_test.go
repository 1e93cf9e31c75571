package config_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/server/options/encryptionconfig"
	"k8s.io/apiserver/pkg/storage/value"

	"github.com/kinns/kinns/controlplane/apiserver/config"
)

// The configuration is read by kube-apiserver's own loader, encrypts Secrets
// with the key and nothing else, and still reads what was stored in the clear.
func TestEncryptionConfigEncryptsSecretsWithTheKey(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	data, err := config.EncryptionConfig(key)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "encryption.yaml")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	loaded, err := encryptionconfig.LoadEncryptionConfig(ctx, file, false, "test")
	if err != nil {
		t.Fatalf("kube-apiserver refuses the configuration: %v\n%s", err, data)
	}
	secrets := loaded.Transformers[schema.GroupResource{Resource: "secrets"}]
	if secrets == nil || loaded.Transformers[schema.GroupResource{Resource: "configmaps"}] != nil {
		t.Fatalf("transformers for %v, want secrets only", loaded.Transformers)
	}
	dataCtx := value.DefaultContext("/registry/secrets/default/s")
	stored, err := secrets.TransformToStorage(ctx, []byte("hunter2"), dataCtx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(stored, []byte("k8s:enc:aescbc:v1:"+config.EncryptionKeyName+":")) || bytes.Contains(stored, []byte("hunter2")) {
		t.Errorf("stored %q", stored)
	}
	plain, _, err := secrets.TransformFromStorage(ctx, []byte("stored-in-the-clear"), dataCtx)
	if err != nil || string(plain) != "stored-in-the-clear" {
		t.Errorf("a Secret stored in the clear reads as %q, %v", plain, err)
	}
	if _, err := config.EncryptionConfig(key[:16]); err == nil || !strings.Contains(err.Error(), "want 32") {
		t.Errorf("a 16-byte key: %v", err)
	}
}
