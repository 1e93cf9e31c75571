package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"
)

// repeat makes count attempts, interval apart, and prints the outcome of each
// on one line of stdout: the answer, with a newline added unless it ends in
// one, or "error: " and the reason. A failure does not stop the run, so one
// exec shows how answers spread over a Service's backends, or that they come
// back after a backend was replaced. Once ctx ends, the remaining attempts
// still get their line, an error at once. It returns how many failed.
func repeat(ctx context.Context, count int, interval time.Duration, stdout io.Writer, try func(context.Context) ([]byte, error)) int {
	failed := 0
	for i := range count {
		if i > 0 {
			sleep(ctx, interval)
		}
		answer, err := try(ctx)
		if err != nil {
			failed++
			fmt.Fprintf(stdout, "error: %v\n", err)
			continue
		}
		stdout.Write(answer)
		if !bytes.HasSuffix(answer, []byte("\n")) {
			io.WriteString(stdout, "\n")
		}
	}
	return failed
}

// repeatStatus is the exit status of a repeated mode; the failures are on
// stdout already, so stderr only gets the tally.
func repeatStatus(mode string, failed, count int, stderr io.Writer) int {
	if failed == 0 {
		return 0
	}
	fmt.Fprintf(stderr, "testapp: %s: %d of %d failed\n", mode, failed, count)
	return 1
}

// sleep waits d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
