package main

import (
	"slices"
	"testing"

	"github.com/kinns/kinns/harness"
)

// Every row of the harness's component table runs, and no runner is left
// without a row.
func TestEveryComponentKindRuns(t *testing.T) {
	kinds := harness.ComponentKinds()
	for _, k := range kinds {
		if runners[k] == nil {
			t.Errorf("component kind %q has no runner in cmd/lab", k)
		}
	}
	for k := range runners {
		if !slices.Contains(kinds, k) {
			t.Errorf("runner %q has no row in the harness's component table", k)
		}
	}
	cmd := newComponentCmd()
	if got := len(cmd.Commands()); got != len(kinds) {
		t.Errorf("lab component has %d subcommands, want %d", got, len(kinds))
	}
}
