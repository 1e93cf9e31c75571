// Package config is a node proxy's configuration and the sync periods of
// the timing profiles. It imports no proxy code, so the harness writes a
// proxy's config (JSON for `lab component proxy`) without linking it.
package config
