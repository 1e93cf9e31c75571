package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kinns/kinns/harness"
)

// newFaultCmd builds `lab fault TARGET ACTION ARGS…` from the harness's fault
// table: one subcommand per target, one per action below it.
func newFaultCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fault",
		Short: "Break or mend parts of a running lab",
		Example: `  lab fault node kill node-3                        # power loss
  lab fault node start node-3
  lab fault partition node-2 --from cp-1,cp-2,cp-3  # node-2 loses the control plane
  lab fault link delay node-1 100                   # 100 ms each way
  lab fault quorum lose                             # etcd members 2 and 3 go: no writes
  lab fault quorum restore
  lab fault heal-all                                # mend everything (lab status lists it)`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return harness.CheckFault(harness.Fault{Target: args[0]})
		},
	}
	var targets []*cobra.Command
	for _, row := range harness.FaultTable() {
		t := findCmd(targets, row.Target)
		if t == nil {
			t = targetCmd(g, row.Target)
			targets = append(targets, t)
		}
		t.AddCommand(actionCmd(g, row))
		if row.Default {
			t.Use += " HOST…"
			t.RunE = runFault(g, row)
			addRowFlags(t, row)
		}
	}
	cmd.AddCommand(targets...)
	cmd.AddCommand(healAllCmd(g))
	return cmd
}

func findCmd(cmds []*cobra.Command, name string) *cobra.Command {
	for _, c := range cmds {
		if c.Name() == name {
			return c
		}
	}
	return nil
}

// targetCmd refuses an action it does not have, naming those it has.
func targetCmd(g *globals, target string) *cobra.Command {
	return &cobra.Command{
		Use:   target,
		Short: "Faults of " + target,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return harness.CheckFault(harness.Fault{Target: target, Action: args[0], Args: args[1:]})
		},
	}
}

func actionCmd(g *globals, row harness.FaultRow) *cobra.Command {
	short := row.Help
	if row.Heal != "" {
		short += " (mend: lab fault " + row.Target + " " + row.Heal + ")"
	}
	c := &cobra.Command{
		Use:   strings.TrimSpace(row.Action + " " + row.Args),
		Short: short,
		RunE:  runFault(g, row),
	}
	addRowFlags(c, row)
	return c
}

// addRowFlags gives a command the flags its row's usage names.
func addRowFlags(c *cobra.Command, row harness.FaultRow) {
	if strings.Contains(row.Args, "--from") {
		c.Flags().String("from", "", "the hosts to cut HOST off from: HOST,HOST…, control-plane or nodes (default: everyone)")
	}
	if strings.Contains(row.Args, "--one-way") {
		c.Flags().Bool("one-way", false, "drop only what HOST sends")
	}
}

func runFault(g *globals, row harness.FaultRow) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if from, _ := cmd.Flags().GetString("from"); from != "" {
			args = append(args, "--from", from)
		}
		if oneWay, _ := cmd.Flags().GetBool("one-way"); oneWay {
			args = append(args, "--one-way")
		}
		f := harness.Fault{Target: row.Target, Action: row.Action, Args: args}
		if err := harness.CheckFault(f); err != nil {
			return err
		}
		lab, err := attach(g)
		if err != nil {
			return err
		}
		if err := lab.RequestFault(cmd.Context(), f); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "lab %s: %s done\n", g.name, f)
		return nil
	}
}

func healAllCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "heal-all",
		Short: "Mend every fault in force (lab status lists them)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lab, err := attach(g)
			if err != nil {
				return err
			}
			n := len(lab.Broken())
			if err := lab.RequestHealAll(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "lab %s: %d faults mended\n", g.name, n)
			return nil
		},
	}
}
