package containerd

import (
	"context"
	"errors"
	"testing"

	"github.com/containerd/containerd/api/services/tasks/v1"
	ctrd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"google.golang.org/grpc"
)

// fakeContainer has no task that the client can see (Task fails with taskErr).
type fakeContainer struct {
	ctrd.Container
	taskErr error
	deleted bool
}

func (c *fakeContainer) ID() string { return "app_0" }

func (c *fakeContainer) Task(context.Context, cio.Attach) (ctrd.Task, error) {
	return nil, c.taskErr
}

func (c *fakeContainer) Delete(context.Context, ...ctrd.DeleteOpts) error {
	c.deleted = true
	return nil
}

// fakeTasks is containerd's task service: Delete answers deleteErr.
type fakeTasks struct {
	tasks.TasksClient
	deleteErr error
	deletes   []string
}

func (t *fakeTasks) Delete(_ context.Context, r *tasks.DeleteTaskRequest, _ ...grpc.CallOption) (*tasks.DeleteResponse, error) {
	t.deletes = append(t.deletes, r.ContainerID)
	return &tasks.DeleteResponse{}, errgrpc.ToGRPC(t.deleteErr)
}

func TestDeleteContainer(t *testing.T) {
	notFound := errgrpc.ToNative(errgrpc.ToGRPC(errdefs.ErrNotFound))
	for _, tc := range []struct {
		name              string
		taskErr, rpcErr   error
		wantErr           bool
		wantRPC, wantGone bool
	}{
		// The shim deleted its container but containerd, whose caller went away,
		// never shut it down: Task reports none, and only the task service's
		// Delete ends the shim (containerd 1.6 then still answers not found).
		{name: "half-deleted task", taskErr: notFound, rpcErr: errdefs.ErrNotFound, wantRPC: true, wantGone: true},
		{name: "task deleted by the task service", taskErr: notFound, wantRPC: true, wantGone: true},
		{name: "task lookup fails", taskErr: errdefs.ErrUnavailable, wantErr: true},
		{name: "task delete fails", taskErr: notFound, rpcErr: errdefs.ErrFailedPrecondition, wantErr: true, wantRPC: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctr := &fakeContainer{taskErr: tc.taskErr}
			ts := &fakeTasks{deleteErr: tc.rpcErr}
			err := deleteContainer(context.Background(), ts, ctr)
			if (err != nil) != tc.wantErr {
				t.Fatalf("deleteContainer() error = %v, want error: %v", err, tc.wantErr)
			}
			if got := len(ts.deletes) == 1 && ts.deletes[0] == "app_0"; got != tc.wantRPC {
				t.Errorf("task service Delete calls = %v, want one for app_0: %v", ts.deletes, tc.wantRPC)
			}
			if ctr.deleted != tc.wantGone {
				t.Errorf("container deleted = %v, want %v", ctr.deleted, tc.wantGone)
			}
			if tc.wantErr && errors.Is(err, errdefs.ErrNotFound) {
				t.Errorf("error %v reads as not found", err)
			}
		})
	}
}
