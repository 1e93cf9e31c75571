package scheduler

import "github.com/kinns/kinns/controlplane/scheduler/config"

// Config describes one scheduler process (see package config).
type Config = config.Config

// Defaults applied by Run to zero fields of Config.
const (
	DefaultQPS                = config.DefaultQPS
	DefaultBurst              = config.DefaultBurst
	DefaultBindWorkers        = config.DefaultBindWorkers
	DefaultPodInitialBackoff  = config.DefaultPodInitialBackoff
	DefaultPodMaxBackoff      = config.DefaultPodMaxBackoff
	DefaultUnschedulableFlush = config.DefaultUnschedulableFlush
)
