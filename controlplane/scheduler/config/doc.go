// Package config is the scheduler's configuration and its defaults. It
// imports no scheduler code, so the harness writes a scheduler's config
// (JSON for `lab component scheduler`) without linking the scheduler.
package config
