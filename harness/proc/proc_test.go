package proc

import (
	"context"
	"os/exec"
	"testing"
	"time"
)

func TestParseStatHandlesOddNames(t *testing.T) {
	line := []byte("4242 (a) b (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0")
	st, state, err := parseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if st != 987654 || state != 'S' {
		t.Errorf("got start %d state %c, want 987654 S", st, state)
	}
	if _, _, err := parseStat([]byte("garbage")); err == nil {
		t.Error("garbage parsed without error")
	}
}

func TestStopOnlyTheIdentifiedProcess(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	id, err := Identify(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	impostor := ID{PID: id.PID, StartTime: id.StartTime + 1}
	if impostor.Alive() {
		t.Fatal("a different start time must not count as the same process")
	}
	if err := Stop(context.Background(), impostor, time.Second); err != nil {
		t.Fatal(err)
	}
	if !id.Alive() {
		t.Fatal("stopping a reused PID killed the real process")
	}
	if err := Stop(context.Background(), id, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	<-done
	if id.Alive() {
		t.Fatal("process still alive after Stop")
	}
	if err := Stop(context.Background(), id, time.Second); err != nil {
		t.Fatalf("stopping a gone process: %v", err)
	}
}
