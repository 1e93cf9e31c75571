package main

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

func TestRepeatPrintsOneLinePerAttempt(t *testing.T) {
	answers := []struct {
		body string
		err  error
	}{{"pod-a", nil}, {"pod-b\n", nil}, {"", errors.New("no reply")}, {"", nil}}
	i := 0
	var out bytes.Buffer
	failed := repeat(context.Background(), len(answers), 0, &out, func(context.Context) ([]byte, error) {
		a := answers[i]
		i++
		return []byte(a.body), a.err
	})
	if want := "pod-a\npod-b\nerror: no reply\n\n"; out.String() != want || failed != 1 {
		t.Fatalf("printed %q with %d failed, want %q with 1", out.String(), failed, want)
	}
}

func TestRepeatWaitsTheIntervalBetweenAttempts(t *testing.T) {
	const interval = 50 * time.Millisecond
	start := time.Now()
	repeat(context.Background(), 3, interval, &bytes.Buffer{}, func(context.Context) ([]byte, error) { return nil, nil })
	if d := time.Since(start); d < 2*interval {
		t.Fatalf("3 attempts %s apart took %s", interval, d)
	}
}

func TestRepeatAfterCancelFailsEveryAttemptAtOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	start := time.Now()
	failed := repeat(ctx, 3, time.Hour, &out, func(ctx context.Context) ([]byte, error) { return nil, ctx.Err() })
	if failed != 3 || bytes.Count(out.Bytes(), []byte("error: context canceled\n")) != 3 || time.Since(start) > time.Minute {
		t.Fatalf("after cancel: %d failed, printed %q", failed, out.String())
	}
}
