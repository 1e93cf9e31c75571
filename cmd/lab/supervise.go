package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kinns/kinns/harness"
	"github.com/kinns/kinns/harness/proc"
	"github.com/kinns/kinns/harness/state"
)

// newSuperviseCmd is the background process `lab up` leaves behind: it brings the
// lab up, keeps it, and takes it down on SIGTERM.
func newSuperviseCmd(g *globals) *cobra.Command {
	o := &upOptions{}
	var progressFD int
	cmd := &cobra.Command{
		Use:    "supervise",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return supervise(g, *o, os.NewFile(uintptr(progressFD), "progress"))
		},
	}
	o.flags(cmd)
	cmd.Flags().IntVar(&progressFD, "progress-fd", 3, "file descriptor to report progress on")
	return cmd
}

func supervise(g *globals, o upOptions, progress *os.File) error {
	g.verbose = true
	log := g.logger().With("component", "supervisor")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	self, err := proc.Self()
	if err != nil {
		return err
	}
	store, err := state.Open(g.stateRoot, g.name)
	if err != nil {
		return err
	}
	if err := store.UpdateMeta(func(m *state.Meta) { m.Supervisor = self }); err != nil {
		return err
	}
	cfg := o.config(g)
	cfg.Reserved, cfg.Owner, cfg.Log = true, self, log
	cfg.Progress = func(step string) { fmt.Fprintf(progress, "%s%s\n", msgStep, oneLine(step)) }
	lab, err := harness.Up(ctx, cfg)
	if err != nil {
		fmt.Fprintf(progress, "%s%s\n", msgError, oneLine(err.Error()))
		return err
	}
	go func() {
		if err := lab.ServeControl(ctx); err != nil {
			log.Error("control socket", "err", err)
		}
	}()
	fmt.Fprintln(progress, msgReady)
	progress.Close()
	log.Info("lab is up; waiting for SIGTERM")
	<-ctx.Done()
	log.Info("taking the lab down")
	downCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return lab.Down(downCtx)
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }
