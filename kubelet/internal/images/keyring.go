package images

import (
	"context"
	"strings"

	"github.com/distribution/reference"
	v1 "k8s.io/api/core/v1"
	"k8s.io/kubernetes/pkg/credentialprovider"
	"k8s.io/kubernetes/pkg/credentialprovider/secrets"

	"github.com/kinns/kinns/kubelet/runtime"
)

// credentials are the pod's pull secrets' credentials for image (a
// normalized name), in upstream's keyring order (the most specific
// registry key first); none means an anonymous pull. missing names the
// secrets that could not be read.
func (m *Manager) credentials(ctx context.Context, pod *v1.Pod, image string) (auths []runtime.Auth, missing []string, err error) {
	var list []v1.Secret
	for _, ref := range pod.Spec.ImagePullSecrets {
		if ref.Name == "" {
			continue
		}
		s, err := m.cfg.Secret(ctx, pod.Namespace, ref.Name)
		if err != nil {
			m.cfg.Log.Info("cannot read pull secret, the pull may fail", "pod", pod.Namespace+"/"+pod.Name, "secret", ref.Name, "err", err)
			missing = append(missing, ref.Name)
			continue
		}
		list = append(list, *s)
	}
	return lookup(list, image), missing, nil
}

// lookup matches image against the secrets' registry keys (host, port,
// path prefix, "*." globs, "https://" and "/v1/" tolerated) with upstream's
// keyring; secrets of other types are ignored, bad ones too.
func lookup(list []v1.Secret, image string) []runtime.Auth {
	if len(list) == 0 {
		return nil
	}
	keyring, err := secrets.MakeDockerKeyring(list, &credentialprovider.BasicDockerKeyring{})
	if err != nil {
		return nil
	}
	repo := image
	if named, err := reference.ParseNormalizedNamed(image); err == nil {
		repo = named.Name()
	}
	found, _ := keyring.Lookup(repo)
	auths := make([]runtime.Auth, 0, len(found))
	for _, c := range found {
		auths = append(auths, runtime.Auth{Username: c.Username, Password: c.Password, IdentityToken: c.IdentityToken})
	}
	return auths
}

// authKey tells credentials apart in the key of a shared pull.
func authKey(a *runtime.Auth) string {
	if a == nil {
		return ""
	}
	return strings.Join([]string{a.Username, a.Password, a.IdentityToken}, "\x00")
}
