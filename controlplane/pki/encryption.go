package pki

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// EncryptionKeySize is the size of the key that encrypts Secrets at rest:
// AES-256, which both the aescbc and the secretbox providers take.
const EncryptionKeySize = 32

// ensureEncryptionKey loads the Secrets' encryption key or makes it. Like
// the CA key, an unusable one is reported, never replaced: the Secrets
// already in etcd could no longer be read.
func (g *generator) ensureEncryptionKey() ([]byte, error) {
	file := g.paths.EncryptionKey()
	key, err := readEncryptionKey(file)
	if !errors.Is(err, fs.ErrNotExist) {
		if err != nil {
			return nil, fmt.Errorf("encryption key cannot be used: %w: remove it to make a new one (Secrets stored with it then cannot be read)", err)
		}
		return key, nil
	}
	key = make([]byte, EncryptionKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("make encryption key: %w", err)
	}
	return key, writeFile(file, encodeEncryptionKey(key), keyMode, durable)
}

func encodeEncryptionKey(key []byte) []byte {
	return []byte(base64.StdEncoding.EncodeToString(key) + "\n")
}

// readEncryptionKey reads the base64 key file; a missing one gives an error
// matching fs.ErrNotExist, a bad one an error matching ErrInvalid.
func readEncryptionKey(file string) ([]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read encryption key: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(data)))
	if err != nil {
		return nil, fmt.Errorf("%w %q: not base64: %v", ErrInvalid, file, err)
	}
	if len(key) != EncryptionKeySize {
		return nil, fmt.Errorf("%w %q: %d bytes, want %d", ErrInvalid, file, len(key), EncryptionKeySize)
	}
	return key, nil
}
