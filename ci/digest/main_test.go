package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"
)

func TestWriteShowsOnlyFailures(t *testing.T) {
	failed := types.SpecReport{
		LeafNodeText: "answers a NodePort", ContainerHierarchyTexts: []string{"Service routing"},
		State:   types.SpecStateFailed,
		Failure: types.Failure{Message: "client -> node-2\nExpected\n<[]string>: [error: refused]", Location: types.CodeLocation{FileName: "services_test.go", LineNumber: 240}},
		ReportEntries: types.ReportEntries{{Name: "warning events",
			Value: types.WrapEntryValue("a\nb\nc\nd\ne\nf\ng\nUnhealthy readiness probe failed")}},
	}
	passed := types.SpecReport{LeafNodeText: "passes", State: types.SpecStatePassed}
	var out bytes.Buffer
	write(&out, []types.Report{{SpecReports: types.SpecReports{passed, failed}}})
	got := out.String()
	for _, want := range []string{"=== FAILED Service routing answers a NodePort", "services_test.go:240", "client -> node-2", "Unhealthy readiness probe failed"} {
		if !strings.Contains(got, want) {
			t.Errorf("digest lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "passes") || strings.Contains(got, "    a\n") {
		t.Errorf("digest shows a passed spec or an early warning:\n%s", got)
	}
}
