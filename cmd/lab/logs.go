package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/kinns/kinns/harness"
)

func newLogsCmd(g *globals) *cobra.Command {
	var follow bool
	var tail int
	cmd := &cobra.Command{
		Use:   "logs COMPONENT",
		Short: "Print a component's log (apiserver, etcd-2, kubelet/node-1, scheduler, …)",
		Example: `  lab logs apiserver
  lab logs -f --tail 20 kubelet/node-1
  lab logs lab        # the lab's own background process`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lab, err := attach(g)
			if err != nil {
				return err
			}
			if len(args) == 0 {
				names, err := lab.LogNames()
				if err != nil {
					return err
				}
				for _, n := range names {
					fmt.Fprintln(cmd.OutOrStdout(), n)
				}
				return nil
			}
			path, err := lab.LogFile(args[0])
			if err != nil {
				return err
			}
			return printLog(cmd.Context(), cmd.OutOrStdout(), path, tail, follow)
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing what is written, until interrupted or the lab goes down")
	cmd.Flags().IntVar(&tail, "tail", -1, "print only the last N lines (-1: all)")
	return cmd
}

// printLog copies the file at path to out, from its last tail lines (all if
// tail < 0), then, when follow, what is appended, polling, until ctx is done
// or the file is removed.
func printLog(ctx context.Context, out io.Writer, path string, tail int, follow bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	if _, err := out.Write(harness.LastLines(b, tail)); err != nil {
		return err
	}
	if !follow {
		return nil
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if _, err := io.Copy(out, f); err != nil {
			return err
		}
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil // the lab went down
		}
	}
}
