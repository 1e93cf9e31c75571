package apiready

import (
	"context"
	"log/slog"
	"time"

	"k8s.io/client-go/rest"
)

// Interval is the pause between two asks of /readyz.
const Interval = 200 * time.Millisecond

// Limit bounds the wait: past it the component goes on, and its clients
// retry as they would against an API server that went away later (the
// quorum faults make /readyz fail for as long as they last).
const Limit = 60 * time.Second

// Wait asks the API server of client (a clientset's
// Discovery().RESTClient()) for /readyz until it answers 200, ctx ends or
// Limit passes; it returns an error only when ctx ended. Any answer but 200
// (connection refused, 403 before the RBAC bootstrap made /readyz public,
// 500 while post-start hooks run) means not ready yet. A nil client (a fake
// clientset's) is ready.
func Wait(ctx context.Context, client rest.Interface, log *slog.Logger) error {
	if client == nil {
		return nil
	}
	return wait(ctx, func(ctx context.Context) error { return readyz(ctx, client) }, Interval, Limit, log)
}

// wait polls ask until it succeeds; the first failure is logged.
func wait(ctx context.Context, ask func(context.Context) error, interval, limit time.Duration, log *slog.Logger) error {
	start := time.Now()
	for i := 0; ; i++ {
		err := ask(ctx)
		if err == nil {
			if i > 0 {
				log.Info("API server ready", "waited", time.Since(start).Round(time.Millisecond))
			}
			return nil
		}
		if i == 0 {
			log.Info("waiting for the API server", "err", err)
		}
		if time.Since(start) >= limit {
			log.Warn("API server still not ready; going on", "waited", time.Since(start).Round(time.Millisecond), "err", err)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

func readyz(ctx context.Context, client rest.Interface) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := client.Get().AbsPath("/readyz").DoRaw(ctx)
	return err
}
