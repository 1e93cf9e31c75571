package component

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// A kind the binary has no runner for, or none at all, is an error that
// names the kinds it runs.
func TestUnknownKindIsAnError(t *testing.T) {
	noop := func(context.Context, Flags, *slog.Logger) error { return nil }
	for _, args := range [][]string{{"kubelet"}, {}} {
		cmd := NewCmd(map[string]Runner{"proxy": noop, "dns": noop})
		cmd.SetArgs(args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), "this binary runs dns, proxy") {
			t.Errorf("component %v: %v, want an error naming dns, proxy", args, err)
		}
	}
}
