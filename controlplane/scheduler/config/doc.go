// Package config is the scheduler's configuration and its defaults. It
// imports no scheduler code, so the harness writes a scheduler's config
// (JSON for `lab component scheduler`) without linking the scheduler. Its
// leader-election fields are the controller manager's type
// (controllers/config.LeaderElection), another plain-data leaf.
package config
