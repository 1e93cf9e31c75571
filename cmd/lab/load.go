package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func newLoadCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "load ARCHIVE",
		Short:   "Import an image archive (OCI or docker save) into every node",
		Example: "  lab load myapp.tar && kubectl run myapp --image=docker.io/library/myapp:v1",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lab, err := attach(g)
			if err != nil {
				return err
			}
			names, err := lab.Load(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "loaded into %d nodes: %s\n", len(lab.Plan().Nodes()), strings.Join(names, ", "))
			return nil
		},
	}
}
