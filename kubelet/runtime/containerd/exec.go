package containerd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs"

	"github.com/kinns/kinns/kubelet/runtime"
)

// Exec runs e.Cmd in the running container id, with the container's
// environment, user and working folder, and returns its exit code. When ctx
// ends first, the process is killed.
func (c *Containerd) Exec(ctx context.Context, id string, e runtime.Exec) (int, error) {
	ctx = c.nsCtx(ctx)
	ctr, err := c.client.LoadContainer(ctx, id)
	if err != nil {
		return 0, notFound(err, id)
	}
	task, err := ctr.Task(ctx, nil)
	if err != nil {
		return 0, notFound(err, id)
	}
	spec, err := ctr.Spec(ctx)
	if err != nil {
		return 0, fmt.Errorf("spec of %s: %w", id, err)
	}
	pspec := *spec.Process
	pspec.Args = e.Cmd
	pspec.Terminal = e.TTY
	opts := []cio.Opt{cio.WithStreams(e.Stdin, e.Stdout, e.Stderr), cio.WithFIFODir(c.fifoDir())}
	if e.TTY {
		opts = append(opts, cio.WithTerminal)
	}
	p, err := task.Exec(ctx, execID(), &pspec, cio.NewCreator(opts...))
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	// The process must go, whatever happens: a background context.
	defer p.Delete(context.WithoutCancel(ctx))
	exited, err := p.Wait(ctx)
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	if err := p.Start(ctx); err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	if e.Resize != nil {
		go func() {
			for sz := range e.Resize {
				p.Resize(ctx, uint32(sz.Width), uint32(sz.Height))
			}
		}()
	}
	select {
	case st := <-exited:
		drain(p.IO(), 2*time.Second)
		code, _, err := st.Result()
		return int(code), err
	case <-ctx.Done():
		if err := p.Kill(context.WithoutCancel(ctx), syscall.SIGKILL); err != nil && !errdefs.IsNotFound(err) {
			return 0, fmt.Errorf("kill exec in %s: %w", id, err)
		}
		<-exited
		return 0, ctx.Err()
	}
}

func execID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "exec-" + hex.EncodeToString(b)
}
