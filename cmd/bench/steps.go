package main

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// stepClock keeps how long each bring-up step took, as the labs log it
// ("bring-up step" records with step and took), in the order they came.
type stepClock struct {
	mu   sync.Mutex
	took map[string][]time.Duration
}

// last is the time of the latest step named step, and whether there is one.
func (c *stepClock) last(step string) (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.took[step]
	if len(t) == 0 {
		return 0, false
	}
	return t[len(t)-1], true
}

func (c *stepClock) add(step string, took time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.took == nil {
		c.took = map[string][]time.Duration{}
	}
	c.took[step] = append(c.took[step], took)
}

// stepHandler hands every record to next and the bring-up steps to clock.
type stepHandler struct {
	next  slog.Handler
	clock *stepClock
}

func (h stepHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.next.Enabled(ctx, l)
}

func (h stepHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "bring-up step" {
		var step string
		var took time.Duration
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "step":
				step = a.Value.String()
			case "took":
				if a.Value.Kind() == slog.KindDuration {
					took = a.Value.Duration()
				}
			}
			return true
		})
		if step != "" {
			h.clock.add(step, took)
		}
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h stepHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return stepHandler{h.next.WithAttrs(as), h.clock}
}

func (h stepHandler) WithGroup(name string) slog.Handler {
	return stepHandler{h.next.WithGroup(name), h.clock}
}
