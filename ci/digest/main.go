package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/onsi/ginkgo/v2/types"
)

// Lines kept of each part of a failure: enough to say what went wrong,
// few enough that the digest stays in the tail of a CI log.
const (
	messageLines = 6
	warningLines = 6
	lineWidth    = 240
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: digest REPORT.json (Ginkgo's --json-report)")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "digest:", err)
		os.Exit(1)
	}
}

func run(path string, w io.Writer) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read the report: %w", err)
	}
	var reports []types.Report
	if err := json.Unmarshal(b, &reports); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	write(w, reports)
	return nil
}

func write(w io.Writer, reports []types.Report) {
	for _, r := range reports {
		for _, s := range r.SpecReports {
			if !s.State.Is(types.SpecStateFailureStates) {
				continue
			}
			fmt.Fprintf(w, "=== FAILED %s (%s)\n", s.FullText(), s.State)
			fmt.Fprintf(w, "    at %s\n", s.Failure.Location)
			writeLines(w, s.Failure.Message, messageLines)
			for _, e := range s.ReportEntries {
				if e.Name == "warning events" {
					fmt.Fprintln(w, "    warning events (last ones):")
					writeLast(w, e.StringRepresentation(), warningLines)
				}
			}
		}
	}
}

func writeLines(w io.Writer, text string, n int) {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	for i, l := range lines {
		if i == n {
			fmt.Fprintf(w, "    … %d more lines\n", len(lines)-n)
			return
		}
		fmt.Fprintln(w, "    "+clip(l))
	}
}

func writeLast(w io.Writer, text string, n int) {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	for _, l := range lines[max(0, len(lines)-n):] {
		fmt.Fprintln(w, "    "+clip(l))
	}
}

func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > lineWidth {
		return s[:lineWidth] + "…"
	}
	return s
}
