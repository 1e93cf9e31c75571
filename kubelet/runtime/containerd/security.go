package containerd

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/containerd/containerd/v2/contrib/seccomp"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/cap"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kinns/kinns/kubelet/runtime"
)

// securityOpts turns a container's Security into spec options, in the
// order containerd's CRI plugin applies them: the user and its groups,
// capabilities, then privileged (which overrides them), no_new_privs, the
// read-only root, and last the seccomp filter, which depends on the
// capabilities. They follow WithImageConfig, whose user they replace.
// Without a base spec of its own, the CRI plugin also drops the default
// spec's rlimits and no_new_privs; so do we.
func securityOpts(sec runtime.Security) ([]oci.SpecOpts, error) {
	capOpts, err := capabilityOpts(sec.CapAdd, sec.CapDrop)
	if err != nil {
		return nil, err
	}
	opts := []oci.SpecOpts{withoutRlimits, oci.WithNewPrivileges}
	opts = append(opts, userOpts(sec)...)
	opts = append(opts, capOpts...)
	if sec.Privileged {
		opts = append(opts, oci.WithPrivileged, oci.WithHostDevices, oci.WithAllDevicesAllowed)
	}
	opts = append(opts, withoutAmbientCaps)
	if sec.NoNewPrivileges {
		opts = append(opts, oci.WithNoNewPrivileges)
	}
	if sec.ReadOnlyRootfs {
		opts = append(opts, oci.WithRootFSReadonly())
	}
	seccompOpt, err := seccompOpt(sec)
	if err != nil {
		return nil, err
	}
	return append(opts, seccompOpt), nil
}

// userOpts sets the user, then its groups from the image's /etc/group
// (unless strict), then the supplemental groups.
func userOpts(sec runtime.Security) []oci.SpecOpts {
	var opts []oci.SpecOpts
	if sec.User != "" {
		opts = append(opts, oci.WithUser(sec.User))
		if !sec.StrictGroups {
			name, _, _ := strings.Cut(sec.User, ":")
			opts = append(opts, withMergedGIDs(oci.WithAdditionalGIDs(name)))
		}
	} else if sec.StrictGroups {
		opts = append(opts, withoutAdditionalGIDs)
	}
	if len(sec.SupplementalGroups) > 0 {
		opts = append(opts, withSupplementalGroups(sec.SupplementalGroups))
	}
	return opts
}

// capabilityOpts applies ALL first, then each add, then each drop, as the
// CRI plugin does. Names are checked against the capabilities this
// kernel's containerd knows.
func capabilityOpts(add, drop []string) ([]oci.SpecOpts, error) {
	adds, addAll, err := capNames(add)
	if err != nil {
		return nil, fmt.Errorf("capabilities.add: %w", err)
	}
	drops, dropAll, err := capNames(drop)
	if err != nil {
		return nil, fmt.Errorf("capabilities.drop: %w", err)
	}
	var opts []oci.SpecOpts
	if addAll {
		opts = append(opts, oci.WithAllCurrentCapabilities)
	}
	if dropAll {
		opts = append(opts, oci.WithCapabilities(nil))
	}
	if len(adds) > 0 {
		opts = append(opts, oci.WithAddedCapabilities(adds))
	}
	if len(drops) > 0 {
		opts = append(opts, oci.WithDroppedCapabilities(drops))
	}
	return opts, nil
}

// capNames normalizes names to "CAP_X" and says whether ALL was among them.
func capNames(names []string) (caps []string, all bool, err error) {
	known := cap.Known()
	for _, n := range names {
		u := strings.ToUpper(strings.TrimSpace(n))
		if u == "ALL" {
			all = true
			continue
		}
		if !strings.HasPrefix(u, "CAP_") {
			u = "CAP_" + u
		}
		if !slices.Contains(known, u) {
			return nil, false, fmt.Errorf("unknown capability %q", n)
		}
		caps = append(caps, u)
	}
	return caps, all, nil
}

func seccompOpt(sec runtime.Security) (oci.SpecOpts, error) {
	switch {
	case sec.Privileged, sec.Seccomp == runtime.SeccompUnconfined:
		return oci.WithSeccompUnconfined, nil
	case sec.Seccomp == runtime.SeccompRuntimeDefault:
		return seccomp.WithDefaultProfile(), nil
	case sec.Seccomp == runtime.SeccompLocalhost && sec.SeccompProfile != "":
		return seccomp.WithProfile(sec.SeccompProfile), nil
	case sec.Seccomp == runtime.SeccompLocalhost:
		return nil, fmt.Errorf("seccomp profile Localhost names no file")
	}
	return nil, fmt.Errorf("unknown seccomp profile type %q", sec.Seccomp)
}

func withoutRlimits(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
	if s.Process != nil {
		s.Process.Rlimits = nil
	}
	return nil
}

func withoutAmbientCaps(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
	if s.Process != nil && s.Process.Capabilities != nil {
		s.Process.Capabilities.Ambient = nil
	}
	return nil
}

func withoutAdditionalGIDs(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
	if s.Process != nil {
		s.Process.User.AdditionalGids = nil
	}
	return nil
}

// withMergedGIDs runs opt, which replaces the additional groups, and keeps
// the ones there were too.
func withMergedGIDs(opt oci.SpecOpts) oci.SpecOpts {
	return func(ctx context.Context, client oci.Client, c *containers.Container, s *specs.Spec) error {
		before := slices.Clone(s.Process.User.AdditionalGids)
		if err := opt(ctx, client, c, s); err != nil {
			return err
		}
		s.Process.User.AdditionalGids = mergeGIDs(s.Process.User.AdditionalGids, before)
		return nil
	}
}

func withSupplementalGroups(groups []int64) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
		gids := make([]uint32, 0, len(groups))
		for _, g := range groups {
			gids = append(gids, uint32(g))
		}
		s.Process.User.AdditionalGids = mergeGIDs(s.Process.User.AdditionalGids, gids)
		return nil
	}
}

// mergeGIDs is the sorted union of a and b.
func mergeGIDs(a, b []uint32) []uint32 {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}
