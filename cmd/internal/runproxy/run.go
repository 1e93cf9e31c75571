// Package runproxy is the Service proxy's runner of `component proxy`, shared
// by the lab binary and lab-proxy.
package runproxy

import (
	"context"
	"log/slog"

	"github.com/kinns/kinns/cmd/internal/component"
	"github.com/kinns/kinns/proxy"
)

// Run runs a node's Service proxy from the config file f names; it is ready
// once its first rules are in place.
func Run(ctx context.Context, f component.Flags, log *slog.Logger) error {
	var cfg proxy.Config
	if err := f.Load(&cfg); err != nil {
		return err
	}
	cfg.Log = log
	return proxy.Run(ctx, cfg, f.Ready)
}
