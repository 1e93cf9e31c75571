// Command summary tells, from the Ginkgo JSON reports of a conformance run
// (its parallel and serial phases), how many tests passed, failed and
// skipped, and each failure's name and first error line. Only the suite's tests (It) are counted: the
// synchronized BeforeSuite, AfterSuite and ReportAfterSuite entries that
// every parallel process adds are not tests, though a failure of one is
// listed, as it fails the run.
//
//	summary _output/conformance/report.json _output/conformance/report-serial.json > _output/conformance/summary.txt
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: summary REPORT.json... (Ginkgo's --json-report, one per phase)")
		os.Exit(2)
	}
	var reports []types.Report
	for _, path := range os.Args[1:] {
		b, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "summary:", err)
			os.Exit(1)
		}
		var rs []types.Report
		if err := json.Unmarshal(b, &rs); err != nil {
			fmt.Fprintf(os.Stderr, "summary: parse %s: %v\n", path, err)
			os.Exit(1)
		}
		reports = append(reports, rs...)
	}
	s := summarize(reports)
	write(os.Stdout, s)
	if s.Passed+s.Failed+s.Skipped == 0 {
		// Ginkgo writes an empty report when a parallel process dies
		// before reporting (an unrecovered panic in a test's goroutine).
		fmt.Println("no test results in the report: did a Ginkgo process die? Its output is in the run's log")
		os.Exit(1)
	}
}

// Summary is what a run did.
type Summary struct {
	Passed, Failed, Skipped int
	// NotSelected counts the tests the focus and skip expressions left out.
	NotSelected int
	Duration    time.Duration
	Failures    []Failure
}

// Failure is one failed test or suite node.
type Failure struct {
	Name      string
	State     string
	FirstLine string
	Location  string
}

// summarize counts the tests of every report; a test left out of one phase
// and run in another is not counted as not selected.
func summarize(reports []types.Report) Summary {
	var s Summary
	ran, left := map[string]bool{}, map[string]bool{}
	for _, r := range reports {
		s.Duration += r.RunTime
		for _, spec := range r.SpecReports {
			test := spec.LeafNodeType == types.NodeTypeIt
			switch {
			case spec.State.Is(types.SpecStateFailureStates):
				if test {
					s.Failed++
				}
				s.Failures = append(s.Failures, failure(spec))
			case !test:
			case spec.State == types.SpecStatePassed:
				s.Passed++
			case spec.State == types.SpecStateSkipped && spec.Failure.Message == "" && spec.RunTime == 0:
				left[spec.FullText()] = true
				continue
			case spec.State.Is(types.SpecStateSkipped | types.SpecStatePending):
				s.Skipped++
			}
			if test {
				ran[spec.FullText()] = true
			}
		}
	}
	for name := range left {
		if !ran[name] {
			s.NotSelected++
		}
	}
	sort.Slice(s.Failures, func(i, j int) bool { return s.Failures[i].Name < s.Failures[j].Name })
	return s
}

func failure(spec types.SpecReport) Failure {
	name := spec.FullText()
	if spec.LeafNodeType != types.NodeTypeIt {
		name = fmt.Sprintf("[%s] %s", spec.LeafNodeType, spec.LeafNodeText)
	}
	return Failure{
		Name:      strings.TrimSpace(name),
		State:     spec.State.String(),
		FirstLine: firstLine(spec.Failure.Message + "\n" + spec.Failure.ForwardedPanic),
		Location:  spec.Failure.Location.String(),
	}
}

// firstLine is a failure's first line; a panic's says what panicked too,
// as Ginkgo's message is only "Test Panicked".
func firstLine(msg string) string {
	var lines []string
	for _, l := range strings.Split(msg, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	switch {
	case len(lines) == 0:
		return "(no message)"
	case lines[0] == "Test Panicked" && len(lines) > 1:
		return lines[0] + ": " + lines[1]
	case strings.HasSuffix(lines[0], "Expected") && len(lines) > 1:
		return clip(gomega(lines))
	}
	return clip(lines[0])
}

// gomega folds Gomega's "Expected / <actual> / to <match> / <expected>"
// into one line, taking the first line of each value.
func gomega(lines []string) string {
	out := lines[0] + " " + lines[1]
	for i := 2; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "to ") || strings.HasPrefix(lines[i], "not to ") {
			out += " " + lines[i]
			if i+1 < len(lines) {
				out += " " + lines[i+1]
			}
			break
		}
	}
	return out
}

const lineWidth = 300

func clip(s string) string {
	if len(s) <= lineWidth {
		return s
	}
	return s[:lineWidth] + "…"
}

func write(w io.Writer, s Summary) {
	for _, f := range s.Failures {
		fmt.Fprintf(w, "FAILED (%s) %s\n    %s\n    at %s\n", f.State, f.Name, f.FirstLine, f.Location)
	}
	if len(s.Failures) > 0 {
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "conformance tests run in %s; %d not selected\n", s.Duration.Round(time.Second), s.NotSelected)
	fmt.Fprintf(w, "%d passed, %d failed, %d skipped\n", s.Passed, s.Failed, s.Skipped)
}
