package harness

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"github.com/kinns/kinns/harness/proc"
	"github.com/kinns/kinns/harness/state"
)

func TestTeardownRemovesUsersBeforeWhatTheyUseAndCarriesOn(t *testing.T) {
	rs := []state.Resource{
		{Kind: state.KindNetns, Name: "l-fabric"},
		{Kind: state.KindLink, Name: "fabric0", Netns: "l-fabric"},
		{Kind: state.KindNetns, Name: "l-node-1"},
		{Kind: state.KindContainerdNamespace, Name: "l-node-1"},
		{Kind: state.KindProcess, Name: "kubelet", Process: proc.ID{PID: 1, StartTime: 1}},
	}
	var mu sync.Mutex
	var done []state.Kind
	boom := errors.New("boom")
	err := teardown(context.Background(), rs, func(_ context.Context, r state.Resource) error {
		mu.Lock()
		defer mu.Unlock()
		done = append(done, r.Kind)
		if r.Kind == state.KindLink {
			return boom
		}
		return nil
	}, slog.New(slog.DiscardHandler))
	if !errors.Is(err, boom) {
		t.Fatalf("teardown error = %v, want it to carry the link failure", err)
	}
	want := []state.Kind{state.KindProcess, state.KindContainerdNamespace, state.KindLink, state.KindNetns, state.KindNetns}
	if len(done) != len(want) {
		t.Fatalf("removed %v, want %v", done, want)
	}
	for i := range want {
		if done[i] != want[i] {
			t.Fatalf("removed %v, want %v", done, want)
		}
	}
}
