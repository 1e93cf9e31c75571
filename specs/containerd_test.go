package specs

import (
	"context"

	"github.com/containerd/containerd/v2/pkg/namespaces"
	. "github.com/onsi/gomega"

	"github.com/kinns/kinns/harness/containerd"
)

// taskPID is the host PID of a container's task in a containerd namespace.
func taskPID(ctx context.Context, address, ns, id string) uint32 {
	c, err := containerd.Connect(address)
	Expect(err).NotTo(HaveOccurred())
	defer c.Close()
	ctx = namespaces.WithNamespace(ctx, ns)
	ctr, err := c.LoadContainer(ctx, id)
	Expect(err).NotTo(HaveOccurred())
	task, err := ctr.Task(ctx, nil)
	Expect(err).NotTo(HaveOccurred())
	return task.Pid()
}
