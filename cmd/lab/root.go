package main

import (
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/kinns/kinns/harness"
)

// globals are the flags every command takes.
type globals struct {
	name      string
	stateRoot string
	verbose   bool
}

func (g *globals) logger() *slog.Logger {
	level := slog.LevelWarn
	if g.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "lab",
		Short: "Run a real multi-node Kubernetes lab in network namespaces",
		Long: `lab runs kinns labs: a three-member etcd, the Kubernetes control plane and
several nodes, each host a Linux network namespace, all on this machine.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.name, "name", harness.DefaultName, "name of the lab")
	root.PersistentFlags().StringVar(&g.stateRoot, "state-root", harness.StateRoot(), "where labs keep their state")
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "log what is being done")
	root.PersistentFlags().MarkHidden("state-root")
	root.AddCommand(newUpCmd(g), newSuperviseCmd(g), newDownCmd(g), newStatusCmd(g), newExecCmd(g), newKubeconfigCmd(g), newFaultCmd(g), newLoadCmd(g), newLogsCmd(g), newRegistryCmd(g), newImagesCmd(g), newComponentCmd())
	return root
}
