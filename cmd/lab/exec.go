package main

import (
	"errors"
	"os"
	"os/exec"

	"github.com/spf13/cobra"
)

func newExecCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "exec HOST -- CMD [ARGS...]",
		Short: "Run a command inside a host's or a pod's network namespace (cp-1, node-2, client, pod/NS/NAME)",
		Long: `Run a command of this machine inside the network namespace of a lab host
(cp-1..3, node-N, client, fabric) or of a pod (pod/NAMESPACE/NAME, or pod/NAME in
the default namespace). The command sees that namespace's interfaces, routes and
firewall; its files are this machine's. To run a command inside a container, use
kubectl exec.`,
		Example: `  lab exec node-1 -- ping -c1 10.89.0.23
  lab exec client -- ip route
  lab exec pod/default/web-0 -- ip -4 addr show eth0`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			host, argv := args[0], args[1:]
			if argv[0] == "--" { // flag parsing stopped at HOST, so "--" is still here
				argv = argv[1:]
			}
			lab, err := attach(g)
			if err != nil {
				return err
			}
			c, err := lab.Command(cmd.Context(), host, argv...)
			if err != nil {
				return err
			}
			c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
			if err := lab.Start(cmd.Context(), host, c); err != nil {
				return err
			}
			err = c.Wait()
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return exitError(ee.ExitCode())
			}
			return err
		},
	}
	// Everything after HOST belongs to the command, flags included.
	cmd.Flags().SetInterspersed(false)
	return cmd
}
