package component

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// Flags are what every component takes from the harness.
type Flags struct {
	// Config is the component's config file (JSON).
	Config string
	// ReadyFD, if positive, is the pipe it says "ready" on.
	ReadyFD int
	// Hostname, if set, is the name of the lab host the component runs
	// on: it becomes the process's host name (see setHostname).
	Hostname string
}

// Runner runs one kind of component until ctx ends.
type Runner func(ctx context.Context, f Flags, log *slog.Logger) error

// NewCmd is the hidden `component` command with one subcommand per runner.
// A kind it has no runner for is an error that names those it has (cobra
// would print the usage and succeed).
func NewCmd(runners map[string]Runner) *cobra.Command {
	kinds := make([]string, 0, len(runners))
	for kind := range runners {
		kinds = append(kinds, kind)
	}
	slices.Sort(kinds)
	cmd := &cobra.Command{Use: "component KIND", Hidden: true, Args: cobra.ArbitraryArgs,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return fmt.Errorf("component: name a kind; this binary runs %s", strings.Join(kinds, ", "))
			}
			return fmt.Errorf("component: no kind %q here; this binary runs %s", args[0], strings.Join(kinds, ", "))
		}}
	for _, kind := range kinds {
		cmd.AddCommand(kindCmd(kind, runners[kind]))
	}
	return cmd
}

func kindCmd(kind string, run Runner) *cobra.Command {
	f := &Flags{}
	cmd := &cobra.Command{
		Use:  kind,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := setHostname(f.Hostname); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			defer profileStart(kind)()
			return run(ctx, *f, slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", kind))
		},
	}
	cmd.Flags().StringVar(&f.Config, "config", "", "the component's config file (JSON)")
	cmd.Flags().IntVar(&f.ReadyFD, "ready-fd", 0, "say ready on this file descriptor")
	cmd.Flags().StringVar(&f.Hostname, "hostname", "", "the lab host's name, taken as this process's host name (it must be alone in its UTS namespace)")
	return cmd
}

// setHostname gives the process its lab host's name, as a process on a real
// host has its host's. Lab hosts are network namespaces that share the
// machine's UTS namespace, so without it every component would carry the
// machine's name; and what upstream derives from the host name would
// collide: the three API servers of an HA lab took one identity Lease
// (apiserver-<hash of the host name>) and fought over it, where a real
// control plane has one each. The harness starts each component in a UTS
// namespace of its own (CLONE_NEWUTS), so the name changes nothing outside
// it; in the machine's own namespace the call is refused rather than
// renaming the machine.
func setHostname(name string) error {
	if name == "" {
		return nil
	}
	if own, err := ownUTSNamespace(); err != nil {
		return fmt.Errorf("--hostname %s: %w", name, err)
	} else if !own {
		return fmt.Errorf("--hostname %s: this process shares its parent's UTS namespace, and setting it would rename the parent's host; the harness starts components with a UTS namespace of their own", name)
	}
	if err := unix.Sethostname([]byte(name)); err != nil {
		return fmt.Errorf("--hostname %s: %w", name, err)
	}
	return nil
}

// ownUTSNamespace says whether this process's UTS namespace differs from
// its parent's.
func ownUTSNamespace() (bool, error) {
	self, err := os.Readlink("/proc/self/ns/uts")
	if err != nil {
		return false, err
	}
	parent, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/uts", os.Getppid()))
	if err != nil {
		return false, err
	}
	return self != parent, nil
}

// Main is the whole main of a binary that only runs components (lab-kubelet,
// lab-proxy): `name component KIND …`, and an error on stderr with status 1.
func Main(name string, runners map[string]Runner) {
	root := &cobra.Command{Use: name, Short: "runs a kinns lab's " + name[len("lab-"):] + " processes for the harness; not meant for people",
		SilenceUsage: true, SilenceErrors: true}
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(NewCmd(runners))
	if err := root.Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// Load reads the component's config file into v.
func (f Flags) Load(v any) error {
	b, err := os.ReadFile(f.Config)
	if err != nil {
		return fmt.Errorf("read component config: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("parse %s: %w", f.Config, err)
	}
	return nil
}

// Ready tells the harness the component serves.
func (f Flags) Ready() {
	if f.ReadyFD <= 0 {
		return
	}
	w := os.NewFile(uintptr(f.ReadyFD), "ready")
	fmt.Fprintln(w, "ready")
	w.Close()
}
