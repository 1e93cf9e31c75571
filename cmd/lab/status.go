package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kinns/kinns/harness"
	"github.com/kinns/kinns/harness/state"
)

func newStatusCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a lab's hosts, components and their health",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "" && output != "json" {
				return fmt.Errorf("unknown output format %q: use -o json, or nothing for a table", output)
			}
			lab, err := attach(g)
			if err != nil {
				return err
			}
			st := lab.Status(cmd.Context())
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			printStatus(cmd.OutOrStdout(), st)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	return cmd
}

// attach finds the lab named by --name, with an error that says what to do.
func attach(g *globals) (*harness.Lab, error) {
	lab, err := harness.Attach(g.stateRoot, g.name)
	if errors.Is(err, state.ErrNotFound) {
		return nil, fmt.Errorf("no lab named %q is up; start one with `lab up --name %s`", g.name, g.name)
	}
	return lab, err
}

func printStatus(out io.Writer, st harness.Status) {
	state := "ready"
	switch {
	case !st.Supervisor.Alive:
		state = "supervisor gone (run `lab down --name " + st.Name + "`)"
	case !st.Ready:
		state = "coming up"
	}
	fmt.Fprintf(out, "lab %s: %s (supervisor pid %d, timing %s)\n", st.Name, state, st.Supervisor.PID, st.Timing)
	fmt.Fprintf(out, "state:      %s\n", st.StateDir)
	ctr := "healthy"
	if !st.Containerd.Healthy {
		ctr = "UNHEALTHY: " + st.Containerd.Error
	}
	fmt.Fprintf(out, "containerd: %s %s", st.Containerd.Address, ctr)
	if st.Containerd.Log != "" {
		fmt.Fprintf(out, " (log %s)", st.Containerd.Log)
	}
	fmt.Fprintln(out)
	if st.APIServer != "" {
		fmt.Fprintf(out, "api server: %s (kubeconfig: lab kubeconfig --name %s)\n", st.APIServer, st.Name)
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPONENT\tPID\tSTATE\tDETAIL")
	for _, c := range st.Components {
		state := "stopped"
		switch {
		case c.Running && c.Healthy:
			state = "healthy"
		case c.Running:
			state = "UNHEALTHY"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", c.Name, c.PID, state, c.Detail)
	}
	tw.Flush()
	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tROLE\tNETNS\tIP\tPOD CIDR\tHEALTH\tNODE")
	for _, h := range st.Hosts {
		health := "ok"
		switch {
		case !h.Present:
			health = "namespace missing"
		case !h.LinkUp:
			health = "link down"
		}
		node := h.Node
		if node == "" && h.Role == "node" && st.APIServer != "" {
			node = "? (API not answering)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.Name, h.Role, h.Netns, h.IP, h.PodCIDR, health, node)
	}
	tw.Flush()
	printAPIServers(out, st)
	printBroken(out, st)
}

// printAPIServers shows, with three API servers, which ones the balancer
// at the virtual IP sends connections to.
func printAPIServers(out io.Writer, st harness.Status) {
	if st.VIP == "" {
		return
	}
	fmt.Fprintf(out, "\napi servers behind %s (the balancer in the fabric namespace):\n", st.VIP)
	for _, b := range st.APIServers {
		state := "in rotation"
		if !b.Ready {
			state = "out: " + b.Error
		}
		fmt.Fprintf(out, "  %-18s %s (since %s)\n", b.Target, state, b.Since.Local().Format(time.TimeOnly))
	}
}

// printBroken lists the faults in force and how to mend each.
func printBroken(out io.Writer, st harness.Status) {
	fmt.Fprintln(out)
	if len(st.Broken) == 0 {
		fmt.Fprintln(out, "faults: none")
		return
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FAULT	SINCE	MEND WITH")
	for _, b := range st.Broken {
		fmt.Fprintf(tw, "%s\t%s\tlab fault %s\n", b.Fault, b.Since.Local().Format(time.TimeOnly), b.Heal)
	}
	tw.Flush()
	fmt.Fprintf(out, "(lab fault heal-all --name %s mends them all)\n", st.Name)
}
