package images

import (
	"github.com/distribution/reference"
	v1 "k8s.io/api/core/v1"
)

// LabDomain is the registry domain of the lab's own image store.
const LabDomain = "kinns.local"

// step is what to do for a container's image.
type step int

const (
	// useLocal: the stored image is used, no registry is asked.
	useLocal step = iota
	// pull: the registry is asked (and only what it lacks is fetched).
	pull
	// neverPull: absent, and the policy forbids pulling.
	neverPull
	// notInLab: a kinns.local image that the lab's store lacks.
	notInLab
)

// decide is the pull policy: name is normalized, present says whether
// the store has it.
func decide(policy v1.PullPolicy, name string, present bool) step {
	switch {
	case isLab(name) && present:
		return useLocal
	case isLab(name):
		return notInLab
	case policy == v1.PullNever && present, policy == v1.PullIfNotPresent && present:
		return useLocal
	case policy == v1.PullNever:
		return neverPull
	}
	return pull
}

// policyOf is the container's policy, defaulted as the API server does
// when it is empty: Always for :latest or no tag, else IfNotPresent.
func policyOf(c *v1.Container, name string) v1.PullPolicy {
	if c.ImagePullPolicy != "" {
		return c.ImagePullPolicy
	}
	if tagged, ok := mustParse(name).(reference.Tagged); ok && tagged.Tag() == "latest" {
		return v1.PullAlways
	}
	if _, ok := mustParse(name).(reference.Digested); ok {
		return v1.PullIfNotPresent
	}
	if _, ok := mustParse(name).(reference.Tagged); !ok {
		return v1.PullAlways
	}
	return v1.PullIfNotPresent
}

func isLab(name string) bool {
	named, ok := mustParse(name).(reference.Named)
	return ok && reference.Domain(named) == LabDomain
}

// mustParse parses a name that NormalizeImage made; nil if it fails.
func mustParse(name string) reference.Reference {
	r, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return nil
	}
	return r
}

// withDefaultTag is the image as upstream's events name it: with ":latest"
// when it has no tag or digest.
func withDefaultTag(image string) string {
	r, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return image
	}
	_, tagged := r.(reference.Tagged)
	_, digested := r.(reference.Digested)
	if tagged || digested {
		return image
	}
	return image + ":latest"
}
