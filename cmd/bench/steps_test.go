package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestStepHandlerKeepsStepTimesAndPassesRecordsOn(t *testing.T) {
	var buf bytes.Buffer
	clock := &stepClock{}
	log := slog.New(stepHandler{slog.NewTextHandler(&buf, nil), clock}).With("lab", "x")
	log.Info("bring-up step", "step", "apiserver", "start", time.Duration(0), "took", 3*time.Second, "err", nil)
	log.Info("bring-up step", "step", "apiserver", "took", 2*time.Second)
	log.Info("something else", "step", "etcd", "took", time.Second)
	if got, ok := clock.last("apiserver"); !ok || got != 2*time.Second {
		t.Errorf("apiserver: %v %v, want the latest, 2s", got, ok)
	}
	if _, ok := clock.last("etcd"); ok {
		t.Error("a record that is not a bring-up step was counted")
	}
	if n := strings.Count(buf.String(), "lab=x"); n != 3 {
		t.Errorf("%d records passed on, want 3:\n%s", n, buf.String())
	}
	// A discarding log still feeds the clock.
	quiet := &stepClock{}
	slog.New(stepHandler{slog.DiscardHandler, quiet}).Info("bring-up step", "step", "apiserver", "took", time.Second)
	if _, ok := quiet.last("apiserver"); !ok {
		t.Error("records were lost with a discarding handler")
	}
}
