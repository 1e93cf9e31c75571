package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

func spec(leaf types.NodeType, text string, state types.SpecState, msg string, run time.Duration) types.SpecReport {
	return types.SpecReport{
		ContainerHierarchyTexts: []string{"[sig-x] Area"},
		LeafNodeType:            leaf, LeafNodeText: text, State: state, RunTime: run,
		Failure: types.Failure{Message: msg, Location: types.CodeLocation{FileName: "x.go", LineNumber: 7}},
	}
}

func TestSummaryCountsTestsNotSuiteNodes(t *testing.T) {
	var specs types.SpecReports
	// Each of 2 parallel processes reports its synchronized suite nodes.
	for range 2 {
		specs = append(specs,
			spec(types.NodeTypeSynchronizedBeforeSuite, "", types.SpecStatePassed, "", time.Second),
			spec(types.NodeTypeSynchronizedAfterSuite, "", types.SpecStatePassed, "", time.Second),
			spec(types.NodeTypeReportAfterSuite, "report", types.SpecStatePassed, "", time.Second))
	}
	specs = append(specs,
		spec(types.NodeTypeIt, "works [Conformance]", types.SpecStatePassed, "", time.Second),
		spec(types.NodeTypeIt, "also works [Conformance]", types.SpecStatePassed, "", time.Second),
		spec(types.NodeTypeIt, "breaks [Conformance]", types.SpecStateFailed,
			"\n  Expected pod to be running\n  but it was Pending\n", time.Second),
		spec(types.NodeTypeIt, "times out [Conformance]", types.SpecStateTimedout, "timed out", time.Second),
		spec(types.NodeTypeIt, "needs two nodes [Conformance]", types.SpecStateSkipped, "Requires at least 2 nodes", time.Second),
		spec(types.NodeTypeIt, "not asked for", types.SpecStateSkipped, "", 0),
		spec(types.NodeTypeIt, "not asked for either", types.SpecStateSkipped, "", 0))
	s := summarize([]types.Report{{SpecReports: specs, RunTime: time.Minute}})

	if s.Passed != 2 || s.Failed != 2 || s.Skipped != 1 || s.NotSelected != 2 {
		t.Fatalf("passed %d failed %d skipped %d not selected %d, want 2 2 1 2", s.Passed, s.Failed, s.Skipped, s.NotSelected)
	}
	if len(s.Failures) != 2 || s.Failures[0].Name != "[sig-x] Area breaks [Conformance]" ||
		s.Failures[0].FirstLine != "Expected pod to be running" {
		t.Fatalf("failures: %+v", s.Failures)
	}
	var out bytes.Buffer
	write(&out, s)
	if !strings.HasSuffix(out.String(), "\n2 passed, 2 failed, 1 skipped\n") {
		t.Errorf("summary does not end with the counts:\n%s", out.String())
	}
}

func TestSummarySaysWhatPanicked(t *testing.T) {
	sp := spec(types.NodeTypeIt, "panics [Conformance]", types.SpecStatePanicked, "Test Panicked", time.Second)
	sp.Failure.ForwardedPanic = "runtime error: invalid memory address or nil pointer dereference"
	s := summarize([]types.Report{{SpecReports: types.SpecReports{sp}}})
	if s.Failed != 1 || s.Failures[0].FirstLine != "Test Panicked: runtime error: invalid memory address or nil pointer dereference" {
		t.Fatalf("summary %+v", s)
	}
}

func TestSummaryFoldsGomegasExpectation(t *testing.T) {
	msg := "expected \"0\" in container output: Expected\n    <string>: 1\n    \nto contain substring\n    <string>: 0"
	got := firstLine(msg)
	want := `expected "0" in container output: Expected <string>: 1 to contain substring <string>: 0`
	if got != want {
		t.Errorf("first line %q, want %q", got, want)
	}
}

func TestSummaryListsAFailedSuiteNodeWithoutCountingIt(t *testing.T) {
	s := summarize([]types.Report{{SpecReports: types.SpecReports{
		spec(types.NodeTypeSynchronizedBeforeSuite, "", types.SpecStateFailed, "no nodes are ready", time.Second),
		spec(types.NodeTypeIt, "works [Conformance]", types.SpecStateSkipped, "Spec skipped because an earlier spec in an ordered container failed", time.Second),
	}}})
	if s.Failed != 0 || s.Skipped != 1 || len(s.Failures) != 1 || s.Failures[0].FirstLine != "no nodes are ready" {
		t.Fatalf("summary %+v", s)
	}
	if !strings.HasPrefix(s.Failures[0].Name, "[SynchronizedBeforeSuite]") {
		t.Errorf("suite node failure named %q", s.Failures[0].Name)
	}
}

// The serial phase's report adds its tests; one the parallel phase left out
// and the serial phase ran is not "not selected".
func TestSummaryAddsPhases(t *testing.T) {
	parallel := types.SpecReports{
		spec(types.NodeTypeIt, "parallel [Conformance]", types.SpecStatePassed, "", time.Second),
		spec(types.NodeTypeIt, "serial [Conformance] [Serial]", types.SpecStateSkipped, "", 0),
		spec(types.NodeTypeIt, "other", types.SpecStateSkipped, "", 0),
	}
	serial := types.SpecReports{
		spec(types.NodeTypeIt, "parallel [Conformance]", types.SpecStateSkipped, "", 0),
		spec(types.NodeTypeIt, "serial [Conformance] [Serial]", types.SpecStateFailed, "broke", time.Second),
		spec(types.NodeTypeIt, "other", types.SpecStateSkipped, "", 0),
	}
	s := summarize([]types.Report{{SpecReports: parallel}, {SpecReports: serial}})
	if s.Passed != 1 || s.Failed != 1 || s.NotSelected != 1 {
		t.Fatalf("passed %d failed %d not selected %d, want 1 1 1", s.Passed, s.Failed, s.NotSelected)
	}
}
