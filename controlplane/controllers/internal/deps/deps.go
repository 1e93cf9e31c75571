// Package deps is what every controller is built from: the clientset it
// writes with, the shared informer factory it reads through, where its events
// go, its logger and its clock. Every controller package has one constructor shape,
//
//	c, err := endpoints.New(deps.Deps{Client: client, Factory: factory, Log: log}, endpoints.Options{})
//
// and the controller manager fills a Deps per controller; a test fills what
// it needs and leaves the rest nil.
package deps

import (
	"log/slog"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
)

// Deps are a controller's side effects, injected.
type Deps struct {
	// Client writes (and reads what no informer holds); in the manager it
	// acts as the controller's ServiceAccount.
	Client kubernetes.Interface
	// Factory is the shared informer factory. A controller registers its
	// informers in New; the caller starts the factory after.
	Factory informers.SharedInformerFactory
	// Recorder records the controller's events; nil discards them.
	Recorder events.EventRecorder
	// Log is the controller's logger; nil discards.
	Log *slog.Logger
	// Clock is the controller's time; nil is the real clock (tests give a
	// fake one).
	Clock clock.Clock
}

// Defaults returns d with a nil Recorder or Log replaced by one that
// discards and a nil Clock by the real one, so that a controller never
// checks for nil.
func (d Deps) Defaults() Deps {
	if d.Recorder == nil {
		d.Recorder = &events.FakeRecorder{} // nil channel: discards
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Clock == nil {
		d.Clock = clock.RealClock{}
	}
	return d
}
