package steps

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestStepsRunAfterWhatTheyName(t *testing.T) {
	var mu sync.Mutex
	var order []string
	note := func(name string) func(context.Context) error {
		return func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			order = append(order, name)
			return nil
		}
	}
	list := []Step{
		{Name: "c", After: []string{"a", "b"}, Run: note("c")},
		{Name: "a", Run: note("a")},
		{Name: "b", After: []string{"a"}, Run: note("b")},
		{Name: "d", After: []string{"c"}, Run: note("d")},
	}
	var reported []string
	if err := Run(t.Context(), list, func(d Done) { reported = append(reported, d.Name) }); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(order, ""); got != "abcd" {
		t.Errorf("order %q, want abcd", got)
	}
	if len(reported) != 4 {
		t.Errorf("reported %v, want all four", reported)
	}
}

// Two independent steps that each wait for the other to have started can
// only finish if they run at once.
func TestIndependentStepsRunAtOnce(t *testing.T) {
	var wg sync.WaitGroup
	wg.Add(2)
	meet := func(ctx context.Context) error {
		wg.Done()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := Run(ctx, []Step{{Name: "x", Run: meet}, {Name: "y", Run: meet}}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestFirstFailureCancelsTheRestAndStartsNothingMore(t *testing.T) {
	boom := errors.New("boom")
	cancelled := make(chan struct{})
	var laterRan bool
	list := []Step{
		{Name: "slow", Run: func(ctx context.Context) error {
			<-ctx.Done()
			close(cancelled)
			return ctx.Err()
		}},
		{Name: "fails", Run: func(context.Context) error { return boom }},
		{Name: "later", After: []string{"fails"}, Run: func(context.Context) error { laterRan = true; return nil }},
	}
	err := Run(t.Context(), list, nil)
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "fails: ") {
		t.Fatalf("err = %v, want boom named after its step", err)
	}
	select {
	case <-cancelled:
	default:
		t.Error("Run returned before the running step saw the cancel")
	}
	if laterRan {
		t.Error("a step after the failed one ran")
	}
}

func TestCancelledContextStopsTheBringUp(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	list := []Step{
		{Name: "a", Run: func(context.Context) error { cancel(); return nil }},
		{Name: "b", After: []string{"a"}, Run: func(context.Context) error { t.Error("b ran"); return nil }},
	}
	if err := Run(ctx, list, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestBadListsAreRefusedBeforeAnythingRuns(t *testing.T) {
	ran := false
	run := func(context.Context) error { ran = true; return nil }
	cases := map[string]struct {
		list []Step
		want string
	}{
		"twice":   {[]Step{{Name: "a", Run: run}, {Name: "a", Run: run}}, `step "a" is listed twice`},
		"unknown": {[]Step{{Name: "a", After: []string{"z"}, Run: run}}, `step "a" comes after "z", which is not a step`},
		"no run":  {[]Step{{Name: "a"}}, `step "a" has nothing to run`},
		"no name": {[]Step{{Run: run}}, "a step has no name"},
		"cycle": {[]Step{
			{Name: "a", After: []string{"c"}, Run: run},
			{Name: "b", After: []string{"a"}, Run: run},
			{Name: "c", After: []string{"b"}, Run: run},
		}, "steps wait on each other: [a c b a]"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := Run(t.Context(), c.list, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
		})
	}
	if ran {
		t.Error("a step of a refused list ran")
	}
}

func TestDoneReportsWhenEachStepRan(t *testing.T) {
	var got []Done
	list := []Step{
		{Name: "a", Run: func(context.Context) error { time.Sleep(20 * time.Millisecond); return nil }},
		{Name: "b", After: []string{"a"}, Run: func(context.Context) error { return nil }},
	}
	if err := Run(t.Context(), list, func(d Done) { got = append(got, d) }); err != nil {
		t.Fatal(err)
	}
	if got[0].Name != "a" || got[0].Took < 20*time.Millisecond || got[1].Start < got[0].Took {
		t.Errorf("done = %+v", got)
	}
}
