package deps

import (
	"context"
	"log/slog"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestDefaultsDiscardAndTellTheRealTime(t *testing.T) {
	d := Deps{}.Defaults()
	d.Log.Info("dropped")
	d.Recorder.Eventf(&corev1.Pod{}, nil, corev1.EventTypeNormal, "Reason", "Action", "dropped")
	if d.Log.Enabled(context.Background(), slog.LevelError) {
		t.Error("the default logger writes")
	}
	if d.Clock == nil {
		t.Error("no default clock")
	}
}

func TestDefaultsKeepWhatIsGiven(t *testing.T) {
	log := slog.New(slog.NewTextHandler(nil, nil))
	if got := (Deps{Log: log}).Defaults().Log; got != log {
		t.Error("a given logger was replaced")
	}
}
