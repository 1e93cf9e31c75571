package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/kinns/kinns/harness"
	"github.com/kinns/kinns/harness/state"
)

func newDownCmd(g *globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop a lab and remove everything it made (also after a crash)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			names := []string{g.name}
			if all {
				var err error
				if names, err = harness.Labs(g.stateRoot); err != nil {
					return err
				}
			}
			return down(cmd.Context(), cmd.OutOrStdout(), g, names)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "take down every lab on this machine")
	return cmd
}

func down(ctx context.Context, out io.Writer, g *globals, names []string) error {
	var errs []error
	for _, name := range names {
		err := harness.Down(ctx, g.stateRoot, name, g.logger())
		switch {
		case errors.Is(err, state.ErrNotFound):
			fmt.Fprintf(out, "lab %q: nothing to take down\n", name)
		case err != nil:
			errs = append(errs, fmt.Errorf("%w (what could be removed was; run `lab down --name %s` again once fixed)", err, name))
		default:
			fmt.Fprintf(out, "lab %q is down\n", name)
		}
	}
	return errors.Join(errs...)
}
