package kubelet

import (
	"k8s.io/apimachinery/pkg/types"

	"github.com/kinns/kinns/kubelet/config"
	"github.com/kinns/kinns/kubelet/records"
)

// The configuration lives in the leaf package config, which a harness
// imports without linking the kubelet; these names keep the old spelling.
type (
	// Config is one node's kubelet; see config.Config.
	Config = config.Config
	// Timings are the periods of a timing profile; see config.Timings.
	Timings = config.Timings
)

// Version is the Kubernetes version this kubelet speaks and reports.
const Version = config.Version

// Timing profiles, as `lab up --timing` names them.
const (
	ProfileFast       = config.ProfileFast
	ProfileKubernetes = config.ProfileKubernetes
)

// TimingsFor returns a profile's periods; see config.TimingsFor.
func TimingsFor(profile string) Timings { return config.TimingsFor(profile) }

// PodNetnsOf is the network namespace (a name under /run/netns) the
// kubelet with this StateDir made for the pod; see records.NetnsOf.
func PodNetnsOf(stateDir string, uid types.UID) (string, bool) { return records.NetnsOf(stateDir, uid) }

// PodNetns lists the pod network namespaces the kubelet with this StateDir
// made and has not removed yet; see records.Netns.
func PodNetns(stateDir string) []string { return records.Netns(stateDir) }
