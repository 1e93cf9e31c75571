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

// A kubelet that makes a pod's namespace (recording it in its journal) while
// the lab is going down: the namespace must still go.
func TestTeardownReadsTheJournalAgainOnceProcessesAreGone(t *testing.T) {
	var mu sync.Mutex
	journal := []state.Resource{
		{Kind: state.KindNetns, Name: "l-node-1"},
		{Kind: state.KindProcess, Name: "kubelet/node-1", Process: proc.ID{PID: 1, StartTime: 1}},
	}
	read := func() ([]state.Resource, error) {
		mu.Lock()
		defer mu.Unlock()
		return append([]state.Resource(nil), journal...), nil
	}
	removed := map[string]bool{}
	err := teardownAll(context.Background(), read, func(_ context.Context, r state.Resource) error {
		mu.Lock()
		defer mu.Unlock()
		if r.Kind == state.KindProcess && !removed[r.Name] {
			// Its last act before it stops: a pod namespace.
			journal = append(journal, state.Resource{Kind: state.KindNetns, Name: "l-node-1-pod"})
		}
		removed[r.Name] = true
		return nil
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kubelet/node-1", "l-node-1", "l-node-1-pod"} {
		if !removed[name] {
			t.Errorf("%s was not removed (removed: %v)", name, removed)
		}
	}
}
