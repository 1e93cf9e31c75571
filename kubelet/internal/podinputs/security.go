package podinputs

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	utilsysctl "k8s.io/component-helpers/node/util/sysctl"
	"k8s.io/kubernetes/pkg/kubelet/util/format"
	"k8s.io/kubernetes/pkg/securitycontext"

	"github.com/kinns/kinns/kubelet/runtime"
)

// containerSecurity resolves how one container of pod runs, as the kubelet
// does before it asks the runtime: the container's securityContext over
// the pod's, runAsNonRoot checked against the user the container would run
// as (imageUser, the image config's, when runAsUser is unset), fsGroup and
// supplementalGroups as extra groups, allowPrivilegeEscalation: false as
// no_new_privs, and a Localhost seccomp profile found under seccompRoot. An
// error is the container's CreateContainerConfigError; its text is the
// upstream kubelet's.
func containerSecurity(pod *v1.Pod, c *v1.Container, imageUser, seccompRoot string) (runtime.Security, error) {
	eff := securitycontext.DetermineEffectiveSecurityContext(pod, c)
	if err := verifyRunAsNonRoot(pod, c, eff, imageUser); err != nil {
		return runtime.Security{}, err
	}
	sec := runtime.Security{
		User:            userString(eff, imageUser),
		NoNewPrivileges: securitycontext.AddNoNewPrivileges(eff),
		Privileged:      eff.Privileged != nil && *eff.Privileged,
		ReadOnlyRootfs:  eff.ReadOnlyRootFilesystem != nil && *eff.ReadOnlyRootFilesystem,
	}
	if caps := eff.Capabilities; caps != nil {
		for _, a := range caps.Add {
			sec.CapAdd = append(sec.CapAdd, string(a))
		}
		for _, d := range caps.Drop {
			sec.CapDrop = append(sec.CapDrop, string(d))
		}
	}
	if psc := pod.Spec.SecurityContext; psc != nil {
		if psc.FSGroup != nil {
			sec.SupplementalGroups = append(sec.SupplementalGroups, *psc.FSGroup)
		}
		sec.SupplementalGroups = append(sec.SupplementalGroups, psc.SupplementalGroups...)
		p := psc.SupplementalGroupsPolicy
		sec.StrictGroups = p != nil && *p == v1.SupplementalGroupsPolicyStrict
		sec.Sysctls = sysctls(psc.Sysctls)
	}
	var err error
	sec.Seccomp, sec.SeccompProfile, err = seccompOf(pod, c, seccompRoot)
	return sec, err
}

// sysctls are the pod's sysctls by their dotted names ("kernel/shm_rmid_forced"
// is "kernel.shm_rmid_forced"), as the kubelet hands them to the runtime.
func sysctls(list []v1.Sysctl) map[string]string {
	if len(list) == 0 {
		return nil
	}
	out := make(map[string]string, len(list))
	for _, s := range list {
		out[utilsysctl.NormalizeName(s.Name)] = s.Value
	}
	return out
}

// userString is the OCI user: runAsUser[:runAsGroup]; with runAsGroup
// alone, the image's user (root if it names none) in that group; with
// neither, "" for the image's user and group.
func userString(eff *v1.SecurityContext, imageUser string) string {
	var user string
	switch {
	case eff.RunAsUser != nil:
		user = strconv.FormatInt(*eff.RunAsUser, 10)
	case eff.RunAsGroup != nil:
		user, _, _ = strings.Cut(imageUser, ":")
		if user == "" {
			user = "0"
		}
	}
	if eff.RunAsGroup != nil {
		user += ":" + strconv.FormatInt(*eff.RunAsGroup, 10)
	}
	return user
}

// imageUID reads an image config's user as the CRI reports it: a numeric
// user is a uid, another a name; none means root.
func imageUID(imageUser string) (*int64, string) {
	user, _, _ := strings.Cut(imageUser, ":")
	if user == "" {
		return new(int64), ""
	}
	uid, err := strconv.ParseInt(user, 10, 64)
	if err != nil {
		return nil, user
	}
	return &uid, ""
}

// verifyRunAsNonRoot refuses a container that asks to run as non-root
// but would run as root, or as a user name that cannot be checked.
func verifyRunAsNonRoot(pod *v1.Pod, c *v1.Container, eff *v1.SecurityContext, imageUser string) error {
	if eff.RunAsNonRoot == nil || !*eff.RunAsNonRoot {
		return nil
	}
	if eff.RunAsUser != nil {
		if *eff.RunAsUser == 0 {
			return fmt.Errorf("container's runAsUser breaks non-root policy (pod: %q, container: %s)", format.Pod(pod), c.Name)
		}
		return nil
	}
	uid, name := imageUID(imageUser)
	switch {
	case uid == nil:
		return fmt.Errorf("container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root (pod: %q, container: %s)", name, format.Pod(pod), c.Name)
	case *uid == 0:
		return fmt.Errorf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", format.Pod(pod), c.Name)
	}
	if errs := validation.IsValidUserID(*uid); len(errs) > 0 {
		return fmt.Errorf("container has runAsNonRoot and image has an invalid user id (%d). (Must be 1-(%d)): %s (pod: %q, container: %s)",
			*uid, math.MaxInt32, strings.Join(errs, "; "), format.Pod(pod), c.Name)
	}
	return nil
}

// seccompOf is the container's seccomp profile, else the pod's, else none
// (Unconfined, the kubelet's default without --seccomp-default). A
// Localhost profile is a file under seccompRoot.
func seccompOf(pod *v1.Pod, c *v1.Container, seccompRoot string) (runtime.Seccomp, string, error) {
	var p *v1.SeccompProfile
	if c.SecurityContext != nil && c.SecurityContext.SeccompProfile != nil {
		p = c.SecurityContext.SeccompProfile
	} else if pod.Spec.SecurityContext != nil {
		p = pod.Spec.SecurityContext.SeccompProfile
	}
	if p == nil {
		return runtime.SeccompUnconfined, "", nil
	}
	switch p.Type {
	case v1.SeccompProfileTypeUnconfined:
		return runtime.SeccompUnconfined, "", nil
	case v1.SeccompProfileTypeRuntimeDefault:
		return runtime.SeccompRuntimeDefault, "", nil
	case v1.SeccompProfileTypeLocalhost:
		if p.LocalhostProfile == nil || !filepath.IsLocal(*p.LocalhostProfile) {
			return "", "", errors.New("localhostProfile must be a relative path inside the kubelet's seccomp folder")
		}
		return runtime.SeccompLocalhost, filepath.Join(seccompRoot, *p.LocalhostProfile), nil
	}
	return "", "", fmt.Errorf("seccomp profile type %q is not supported", p.Type)
}
