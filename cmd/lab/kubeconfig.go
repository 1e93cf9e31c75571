package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func newKubeconfigCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "kubeconfig",
		Short: "Print an admin kubeconfig for the lab (API on 127.0.0.1)",
		Example: `  lab kubeconfig > ~/.kube/kinns && kubectl --kubeconfig ~/.kube/kinns get nodes
  kubectl --kubeconfig <(lab kubeconfig) get ns`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lab, err := attach(g)
			if err != nil {
				return err
			}
			b, err := os.ReadFile(lab.KubeconfigPath())
			if err != nil {
				return fmt.Errorf("lab %s has no kubeconfig yet (is it still coming up? see `lab status`): %w", g.name, err)
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
}
