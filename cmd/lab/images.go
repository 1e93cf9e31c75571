package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kinns/kinns/harness"
	"github.com/kinns/kinns/harness/images"
)

func newImagesCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "images [NODE]",
		Short: "List each node's images and the containers that use them",
		Long: `images lists the images of each node's containerd namespace (or of NODE's):
name, digest, size of its content, and the containers made from it, running or
not (NAMESPACE/POD/CONTAINER). The kubelet's image garbage collection never
removes an image in use, nor a pinned one (the built-in test image is pinned).`,
		Example: "  lab images\n  lab images node-2 -o json",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "" && output != "json" {
				return fmt.Errorf("unknown output format %q: use -o json, or nothing for a table", output)
			}
			lab, err := attach(g)
			if err != nil {
				return err
			}
			node := ""
			if len(args) == 1 {
				node = args[0]
			}
			list, err := lab.Images(cmd.Context(), node)
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(list)
			}
			printImages(cmd.OutOrStdout(), list)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	return cmd
}

func printImages(out io.Writer, list []harness.NodeImages) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tIMAGE\tDIGEST\tSIZE\tIN USE")
	for _, n := range list {
		for _, img := range n.Images {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n.Node, img.Name, shortDigest(img.Digest), humanSize(img.Size), inUse(img))
		}
	}
	tw.Flush()
}

func inUse(img images.Listed) string {
	s := "-"
	if len(img.UsedBy) > 0 {
		s = "by " + strings.Join(img.UsedBy, ", ")
	}
	if img.Pinned {
		s += " (pinned)"
	}
	return s
}

// shortDigest is the first 12 hex digits, as docker and crictl show an ID.
func shortDigest(d string) string {
	_, hex, ok := strings.Cut(d, ":")
	if !ok || len(hex) < 12 {
		return d
	}
	return hex[:12]
}

func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
