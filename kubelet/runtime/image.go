package runtime

import "github.com/distribution/reference"

// Pull policies, as in a pod spec.
const (
	PullAlways       = "Always"
	PullIfNotPresent = "IfNotPresent"
	PullNever        = "Never"
)

// NormalizeImage names an image as containerd stores it: "nginx" is
// "docker.io/library/nginx:latest".
func NormalizeImage(ref string) (string, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", err
	}
	return named.String(), nil
}
