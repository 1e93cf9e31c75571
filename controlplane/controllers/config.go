package controllers

import "github.com/kinns/kinns/controlplane/controllers/config"

// The configuration lives in the leaf package config, so that those who
// only write it do not link the controllers; these names keep it at hand.
type (
	Config         = config.Config
	NodeTiming     = config.NodeTiming
	LeaderElection = config.LeaderElection
)

// Timing profile names (DESIGN §5).
const (
	ProfileFast       = config.ProfileFast
	ProfileKubernetes = config.ProfileKubernetes
)

// Timing returns the node timing of a profile (see config.Timing).
func Timing(profile string) NodeTiming { return config.Timing(profile) }

// LeaderElectionTiming returns the lease timing of a profile (see
// config.LeaderElectionTiming).
func LeaderElectionTiming(profile string) LeaderElection {
	return config.LeaderElectionTiming(profile)
}
