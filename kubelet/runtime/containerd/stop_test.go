package containerd

import (
	"context"
	"errors"
	"testing"

	"github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"google.golang.org/grpc"
)

// fakeTasks is containerd's task service: Delete answers err.
type fakeTasks struct {
	tasks.TasksClient
	err     error
	deletes []string
	ctxErr  error
}

func (t *fakeTasks) Delete(ctx context.Context, r *tasks.DeleteTaskRequest, _ ...grpc.CallOption) (*tasks.DeleteResponse, error) {
	t.deletes = append(t.deletes, r.ContainerID)
	t.ctxErr = ctx.Err()
	return &tasks.DeleteResponse{}, errgrpc.ToGRPC(t.err)
}

func TestDeleteTask(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		wantErr bool
	}{
		{name: "deleted", err: nil},
		// containerd 1.6 answers so both when there is no task and when it shut
		// down the shim of a half-deleted one.
		{name: "not found", err: errdefs.ErrNotFound},
		{name: "still running", err: errdefs.ErrFailedPrecondition, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := &fakeTasks{err: tc.err}
			err := DeleteTask(context.Background(), ts, "app_0")
			if (err != nil) != tc.wantErr {
				t.Fatalf("DeleteTask() = %v, want error: %v", err, tc.wantErr)
			}
			if len(ts.deletes) != 1 || ts.deletes[0] != "app_0" {
				t.Errorf("task service Delete calls %v, want one for app_0", ts.deletes)
			}
			if tc.wantErr && !errors.Is(err, errdefs.ErrFailedPrecondition) {
				t.Errorf("error %v does not wrap the cause", err)
			}
		})
	}
}

// A caller going away must not cut the deletion short: that is what leaves
// containerd 1.6 with a half-deleted task.
func TestDeleteTaskOutlivesItsCaller(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ts := &fakeTasks{}
	if err := DeleteTask(ctx, ts, "app_0"); err != nil {
		t.Fatal(err)
	}
	if ts.ctxErr != nil {
		t.Errorf("the task service saw a context ending with %v", ts.ctxErr)
	}
}
