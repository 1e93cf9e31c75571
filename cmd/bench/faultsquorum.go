package main

import (
	"context"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// quorumOutage is how long quorum stays lost after the first failed write:
// long enough for the API server to have noticed everywhere (its /readyz
// fails too), short enough for three runs.
const quorumOutage = 2 * time.Second

// quorumLoss runs a client that writes every writeEvery, takes quorum away
// (the harness's `quorum lose`: etcd members 2 and 3 stop at once) and
// gives it back (`quorum restore`). quorum_fail_seconds runs from the
// fault's start to the end of the first write that failed;
// quorum_recover_seconds from the mend's start to the end of the first
// write that succeeded.
func quorumLoss(ctx context.Context, f *faultLab) (map[string]float64, error) {
	w := startWriter(ctx, f.writes, f.next("quorum"))
	defer w.stop()
	if _, err := w.await(ctx, time.Now(), succeeded, 30*time.Second); err != nil {
		return nil, err
	}
	lose := time.Now()
	if err := f.inject(ctx, "quorum lose"); err != nil {
		return nil, err
	}
	bad, err := w.await(ctx, lose, failed, 30*time.Second)
	if err != nil {
		return nil, err
	}
	time.Sleep(quorumOutage)
	// A write in flight hangs until the client's timeout; the API
	// server's own answer, a 503, comes once it has seen quorum go.
	first503 := "none"
	if refused, ok := firstEnded(w.writes(), lose, func(w write) bool { return apierrors.IsServiceUnavailable(w.err) }); ok {
		first503 = refused.end.Sub(lose).Round(time.Millisecond).String()
	}
	f.log.Info("quorum lost: first failed write", "after", bad.end.Sub(lose).Round(time.Millisecond),
		"took", bad.end.Sub(bad.start).Round(time.Millisecond), "err", bad.err, "first503After", first503)
	restore := time.Now()
	if err := f.inject(ctx, "quorum restore"); err != nil {
		return nil, err
	}
	good, err := w.await(ctx, restore, succeeded, time.Minute)
	if err != nil {
		return nil, err
	}
	return map[string]float64{
		"quorum_fail_seconds":    secondsSince(lose, bad.end),
		"quorum_recover_seconds": secondsSince(restore, good.end),
	}, nil
}
