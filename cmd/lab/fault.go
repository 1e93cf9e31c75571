package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kinns/kinns/harness"
)

func newFaultCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fault",
		Short: "Break or mend parts of a running lab",
		Example: `  lab fault etcd stop 2        # member 2 stops (a leader hands over first)
  lab fault etcd kill 2        # member 2 crashes (SIGKILL)
  lab fault etcd partition 3   # cp-3's cable is pulled
  lab fault quorum lose        # members 2 and 3 go: no writes
  lab fault quorum restore
  lab fault apiserver stop`,
	}
	cmd.AddCommand(
		faultCmd(g, "etcd", []string{"stop", "kill", "start", "partition", "heal"}, "N", "member N (1-3) of etcd"),
		faultCmd(g, "quorum", []string{"lose", "restore"}, "", "etcd's quorum"),
		faultCmd(g, "apiserver", []string{"stop", "start"}, "", "the API server"),
	)
	return cmd
}

func faultCmd(g *globals, target string, actions []string, arg, what string) *cobra.Command {
	use := target + " " + strings.Join(actions, "|")
	nargs := 1
	if arg != "" {
		use += " " + arg
		nargs = 2
	}
	return &cobra.Command{
		Use:       use,
		Short:     "Break or mend " + what,
		ValidArgs: actions,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != nargs || !slices.Contains(actions, args[0]) {
				return fmt.Errorf("usage: lab fault %s", use)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			lab, err := attach(g)
			if err != nil {
				return err
			}
			f := harness.Fault{Target: target, Action: args[0]}
			if nargs == 2 {
				f.Arg = args[1]
			}
			if err := lab.RequestFault(cmd.Context(), f); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "lab %s: %s done\n", g.name, f)
			return nil
		},
	}
}
