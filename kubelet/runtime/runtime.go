package runtime

import (
	"context"
	"time"
)

// Runtime runs the containers of a node's pods. The kubelet's pod worker
// and node agent use it through this interface; package containerd's
// *Containerd is the real one, and tests use fakes in memory. Implementations
// are safe for concurrent use.
type Runtime interface {
	// Version is the runtime's version, for the Node's info; an error means
	// the runtime is down (the node is not Ready).
	Version(ctx context.Context) (string, error)
	// EnsureImage returns the image ref names, pulling it if the pull
	// policy (PullAlways, PullIfNotPresent, PullNever) allows. Errors are
	// *ImageError.
	EnsureImage(ctx context.Context, ref, policy string) (Image, error)
	// Start creates and starts one run of a container. A run whose process
	// could not start is returned exited (ReasonStartError), not as an error;
	// an error (a *CreateError, or a failure to reach the runtime) means
	// nothing was left behind.
	Start(ctx context.Context, s Spec) (Container, error)
	// Stop sends the run's stop signal, waits up to grace, then kills it.
	// Stopping a run that has ended is not an error.
	Stop(ctx context.Context, id string, grace time.Duration) error
	// Remove kills the run if it still runs and deletes it with its
	// record; a missing one is success.
	Remove(ctx context.Context, id string) error
	// List returns the runs of the pod with podUID ("" for every pod),
	// exited ones included with how they ended.
	List(ctx context.Context, podUID string) ([]Container, error)
	// Exec runs a command in a running run and returns its exit code; when
	// ctx ends first the command is killed. An error wrapping ErrNotFound
	// means no such run.
	Exec(ctx context.Context, id string, e Exec) (int, error)
	// Attach streams a running run's output to a, and a's stdin to the
	// run's, until the run ends, ctx ends or the client leaves. An error
	// wrapping ErrNotFound means no such running run.
	Attach(ctx context.Context, id string, a Attach) error
	// Update applies new cgroup limits to a running run in place (an
	// in-place pod resize) and records them as its Resources. An error
	// wrapping ErrNotFound means no such running run.
	Update(ctx context.Context, id string, r Resources) error
	// MemoryUsage is the memory the run's cgroup uses now, in bytes.
	MemoryUsage(ctx context.Context, id string) (int64, error)
	// RemoveCgroup removes a pod's cgroup tree (rel below the cgroup root,
	// in every hierarchy); missing folders are success, folders that still
	// hold processes an error.
	RemoveCgroup(rel string) error
}
