package runtime

import "context"

// ImageService is the image store of a node, for the kubelet's image
// manager (which decides, by pull policy, whether to pull). Errors are
// *ImageError. *containerd.Containerd is the real one.
type ImageService interface {
	// LocalImage returns the image stored under ref (normalized, see
	// NormalizeImage); ok is false when there is none.
	LocalImage(ctx context.Context, ref string) (img Image, ok bool, err error)
	// PullImage resolves ref at its registry and fetches what is not
	// already stored, then unpacks it: a tag that still names the stored
	// digest fetches nothing more than its manifest. auth nil is anonymous.
	PullImage(ctx context.Context, ref string, auth *Auth) (Image, error)
}

// Auth is a registry credential for one pull: a user name and password, or
// an identity token (an OAuth2 refresh token) in IdentityToken.
type Auth struct {
	Username, Password, IdentityToken string
}
