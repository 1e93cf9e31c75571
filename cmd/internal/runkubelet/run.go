// Package runkubelet is the kubelet's runner of `component kubelet`, shared by
// the lab binary and lab-kubelet.
package runkubelet

import (
	"context"
	"log/slog"

	"github.com/kinns/kinns/cmd/internal/component"
	"github.com/kinns/kinns/kubelet"
)

// Run runs a node's kubelet from the config file f names.
func Run(ctx context.Context, f component.Flags, log *slog.Logger) error {
	var cfg kubelet.Config
	if err := f.Load(&cfg); err != nil {
		return err
	}
	cfg.Log = log
	f.Ready()
	return kubelet.Run(ctx, cfg)
}
