package controllers

import (
	"log/slog"
	"sync"
)

// onceWarnings logs each distinct API warning once. The API server warns on
// every core/v1 Endpoints call, which the endpoints controller and the
// namespace controller make all the time.
type onceWarnings struct {
	log  *slog.Logger
	mu   sync.Mutex
	seen map[string]bool
}

func newOnceWarnings(log *slog.Logger) *onceWarnings {
	return &onceWarnings{log: log, seen: map[string]bool{}}
}

// HandleWarningHeader implements rest.WarningHandler.
func (w *onceWarnings) HandleWarningHeader(code int, agent, text string) {
	if code != 299 || text == "" {
		return
	}
	w.mu.Lock()
	first := !w.seen[text]
	w.seen[text] = true
	w.mu.Unlock()
	if first {
		w.log.Info("API warning (logged once)", "warning", text)
	}
}
