package node

import (
	"context"
	"log/slog"
	"sync"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/kinns/kinns/kubelet/config"
)

// Deps are the agent's side effects, replaced by fakes in tests.
type Deps struct {
	Client kubernetes.Interface
	// Heartbeat renews the Lease and posts the Node's status (default:
	// Client); the kubelet gives it no client-side rate limit.
	Heartbeat kubernetes.Interface
	// Runtime answers for the container runtime (runtime.Runtime is one):
	// its version goes into the Node's info, and an error makes the node
	// not Ready.
	Runtime interface {
		Version(ctx context.Context) (string, error)
	}
	// Network answers for the pod network (cni's Plugin is one); an error
	// makes the node not Ready.
	Network interface {
		Status(ctx context.Context) error
	}
	// Clock defaults to the real one.
	Clock clock.WithTicker
}

// Agent is the kubelet's node agent: it registers the Node and keeps it
// alive and current. It is safe for concurrent use.
type Agent struct {
	cfg    config.Config
	client kubernetes.Interface
	// heartbeat renews the Lease and posts the status.
	heartbeat kubernetes.Interface
	rt        interface {
		Version(ctx context.Context) (string, error)
	}
	net interface {
		Status(ctx context.Context) error
	}
	clock clock.WithTicker
	log   *slog.Logger

	mu       sync.Mutex
	lastNode *v1.Node // as last written or read
}

// New makes the agent of the node cfg describes; cfg must be defaulted
// (config.Config.Default).
func New(cfg config.Config, d Deps) *Agent {
	a := &Agent{cfg: cfg, client: d.Client, rt: d.Runtime, net: d.Network, clock: d.Clock, log: cfg.Log}
	if a.clock == nil {
		a.clock = clock.RealClock{}
	}
	if a.heartbeat = d.Heartbeat; a.heartbeat == nil {
		a.heartbeat = a.client
	}
	return a
}

// Run renews the node's Lease and posts its status until ctx ends. Call it
// after Register.
func (a *Agent) Run(ctx context.Context) {
	var loops sync.WaitGroup
	loops.Go(func() { a.renewLease(ctx) })
	loops.Go(func() { a.nodeStatusLoop(ctx) })
	loops.Wait()
}
