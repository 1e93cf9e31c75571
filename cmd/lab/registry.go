package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kinns/kinns/harness/registry"
)

func newRegistryCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "Run a local image registry on 127.0.0.1 for every lab of this machine",
		Long: `lab registry runs an OCI registry (go-containerregistry's) on 127.0.0.1:PORT of
this host (default 5001, as kind's local-registry recipe), for every lab:
nodes pull localhost:PORT/NAME:TAG from it. It listens on 127.0.0.1 only.

It is host-wide: it is not part of any lab, and lab down (even --all) leaves it
running; lab registry down stops it. Each port is its own registry, with its
files in <state root>/registries/PORT/. Pushed images (blobs on disk, manifests
in a journal) survive lab registry down and a later up on the same port;
down --purge deletes them.`,
		Example: `  lab registry up
  lab registry push myapp.tar                       # each image under its own name, on localhost:5001
  lab registry push myapp.tar myapp:1               # or under this name
  kubectl create deployment r --image=localhost:5001/myapp:1
  curl http://127.0.0.1:5001/v2/_catalog
  lab registry down`,
	}
	cmd.AddCommand(newRegistryUpCmd(g), newRegistryDownCmd(g), newRegistryPushCmd(g), newRegistryStatusCmd(g), newRegistryServeCmd(g))
	return cmd
}

func portFlag(cmd *cobra.Command, port *int) {
	cmd.Flags().IntVar(port, "port", registry.DefaultPort, "the registry's port on 127.0.0.1")
}

func (g *globals) registry(port int) (registry.Registry, error) {
	self, err := os.Executable()
	if err != nil {
		return registry.Registry{}, fmt.Errorf("find the lab binary: %w", err)
	}
	return registry.Registry{StateRoot: g.stateRoot, Port: port, Binary: self, Log: g.logger()}, nil
}

func newRegistryUpCmd(g *globals) *cobra.Command {
	var port int
	var user string
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the registry in the background (nothing to do if it runs)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := credentials(user)
			if err != nil {
				return err
			}
			r, err := g.registry(port)
			if err != nil {
				return err
			}
			info, already, err := r.Up(cmd.Context(), o)
			if err != nil {
				return err
			}
			printRegistryUsage(cmd.OutOrStdout(), info, already)
			return nil
		},
	}
	portFlag(cmd, &port)
	cmd.Flags().StringVar(&user, "user", "", "USER:PASSWORD: make it private (HTTP Basic); pods then need an imagePullSecret")
	return cmd
}

func credentials(user string) (registry.Options, error) {
	if user == "" {
		return registry.Options{}, nil
	}
	u, p, ok := strings.Cut(user, ":")
	if !ok || u == "" || p == "" {
		return registry.Options{}, fmt.Errorf("--user %q: want USER:PASSWORD, both non-empty", user)
	}
	return registry.Options{User: u, Password: p}, nil
}

func printRegistryUsage(out io.Writer, info registry.Info, already bool) {
	verb := "is up"
	if already {
		verb = "was already running"
	}
	fmt.Fprintf(out, "Registry on %s %s (pid %d, images in %s).\n", info.Address, verb, info.Process.PID, info.Dir)
	port := info.Port
	fmt.Fprintf(out, "  lab registry push --port %d IMAGE.tar [NAME:TAG]   push an OCI or docker-save archive\n", port)
	fmt.Fprintf(out, "  kubectl create deployment r --image=%s/NAME:TAG\n", info.Host)
	fmt.Fprintf(out, "  curl http://%s/v2/_catalog\n", info.Address)
	if info.User != "" {
		fmt.Fprintf(out, "  kubectl create secret docker-registry regcred --docker-server=%s --docker-username=%s --docker-password=…\n", info.Host, info.User)
	}
	fmt.Fprintf(out, "  lab registry down --port %d                          stop it (images are kept; --purge deletes them)\n", port)
}

func newRegistryDownCmd(g *globals) *cobra.Command {
	var port int
	var purge, all bool
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop the registry (its images are kept unless --purge)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ports := []int{port}
			if all {
				infos, err := registry.List(g.stateRoot)
				if err != nil {
					return err
				}
				ports = ports[:0]
				for _, i := range infos {
					ports = append(ports, i.Port)
				}
			}
			return registriesDown(cmd.Context(), cmd.OutOrStdout(), g, ports, purge)
		},
	}
	portFlag(cmd, &port)
	cmd.Flags().BoolVar(&purge, "purge", false, "also delete the images it holds")
	cmd.Flags().BoolVar(&all, "all", false, "stop every registry of this machine")
	return cmd
}

func registriesDown(ctx context.Context, out io.Writer, g *globals, ports []int, purge bool) error {
	var errs []error
	for _, port := range ports {
		r, err := g.registry(port)
		if err != nil {
			return err
		}
		err = r.Down(ctx, purge)
		switch {
		case errors.Is(err, registry.ErrNotRunning):
			fmt.Fprintf(out, "no registry was running on %s\n", r.Address())
		case err != nil:
			errs = append(errs, err)
		default:
			fmt.Fprintf(out, "registry on %s is down\n", r.Address())
		}
		if purge && (err == nil || errors.Is(err, registry.ErrNotRunning)) {
			fmt.Fprintf(out, "its images are deleted\n")
		}
	}
	return errors.Join(errs...)
}

func newRegistryPushCmd(g *globals) *cobra.Command {
	var port int
	cmd := &cobra.Command{
		Use:   "push ARCHIVE [NAME:TAG]",
		Short: "Push an OCI or docker-save archive to the registry",
		Long: `push sends every image of ARCHIVE (an OCI image layout or a docker save tar, as
lab load takes) to the registry. Without NAME:TAG each keeps its own name with
the registry in front (kinns.local/testapp:latest is pushed as
localhost:5001/testapp:latest, nginx:1 as localhost:5001/nginx:1); with it the
archive must hold one image. Any other registry client works too (crane push,
docker push localhost:5001/…).`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := os.Stat(args[0]); err != nil {
				return fmt.Errorf("image archive: %w", err)
			}
			target := ""
			if len(args) == 2 {
				target = args[1]
			}
			r, err := g.registry(port)
			if err != nil {
				return err
			}
			start := time.Now()
			pushed, err := r.Push(cmd.Context(), args[0], target)
			for _, p := range pushed {
				fmt.Fprintf(cmd.OutOrStdout(), "pushed %s (%s)\n", p.Ref, p.Digest)
			}
			if err == nil {
				fmt.Fprintf(cmd.OutOrStdout(), "in %.1fs\n", time.Since(start).Seconds())
			}
			return err
		},
	}
	portFlag(cmd, &port)
	return cmd
}

func newRegistryStatusCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "List the registries of this machine",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "" && output != "json" {
				return fmt.Errorf("unknown output format %q: use -o json, or nothing for a table", output)
			}
			infos, err := registry.List(g.stateRoot)
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(infos)
			}
			printRegistries(cmd.OutOrStdout(), infos)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	return cmd
}

func printRegistries(out io.Writer, infos []registry.Info) {
	if len(infos) == 0 {
		fmt.Fprintln(out, "no registry; start one with `lab registry up`")
		return
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tIMAGES AS\tPID\tSTATE\tUSER\tSINCE\tFILES")
	for _, i := range infos {
		st := "running"
		if !i.Running {
			st = "gone (run `lab registry down --port " + fmt.Sprint(i.Port) + "`)"
		}
		fmt.Fprintf(tw, "%s\t%s/…\t%d\t%s\t%s\t%s\t%s\n", i.Address, i.Host, i.Process.PID, st, dash(i.User), i.Started.Local().Format(time.DateTime), i.Dir)
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// newRegistryServeCmd is the registry process `lab registry up` starts; it
// serves the listener it is handed on --listen-fd. Not meant for people.
func newRegistryServeCmd(g *globals) *cobra.Command {
	var port, fd int
	cmd := &cobra.Command{
		Use:    "serve",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			r := registry.Registry{StateRoot: g.stateRoot, Port: port}
			cfg, err := r.ServerConfig()
			if err != nil {
				return err
			}
			ln, err := net.FileListener(os.NewFile(uintptr(fd), "listener"))
			if err != nil {
				return fmt.Errorf("listener on fd %d: %w", fd, err)
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "registry")
			return registry.Serve(ctx, ln, cfg, log)
		},
	}
	portFlag(cmd, &port)
	cmd.Flags().IntVar(&fd, "listen-fd", 3, "the listening socket")
	return cmd
}
