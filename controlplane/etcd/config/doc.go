// Package config holds an etcd member's configuration, its defaults and its
// checks, and the timing profiles. It imports nothing of etcd's server, so
// the harness writes member configs (as JSON for `lab component etcd`)
// without linking etcd; package etcd runs a member from it.
package config
