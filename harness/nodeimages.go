package harness

import (
	"context"
	"fmt"
	"strings"

	"github.com/kinns/kinns/harness/images"
	"github.com/kinns/kinns/harness/topology"
)

// NodeImages are the images of one node's containerd namespace.
type NodeImages struct {
	Node   string          `json:"node"`
	Images []images.Listed `json:"images"`
}

// Images lists the images of node, or of every node for "", with the
// containers that use them.
func (l *Lab) Images(ctx context.Context, node string) ([]NodeImages, error) {
	nodes := l.plan.Nodes()
	if node != "" {
		h, ok := l.plan.Host(node)
		if !ok || !h.IsNode() {
			return nil, fmt.Errorf("no node %q in lab %s: nodes are %s", node, l.Name(), strings.Join(nodeNames(l.plan), ", "))
		}
		nodes = []topology.Host{h}
	}
	out := make([]NodeImages, 0, len(nodes))
	for _, n := range nodes {
		imgs, err := images.List(ctx, l.containerdAddress, topology.ContainerdNamespace(l.Name(), n.Name))
		if err != nil {
			return nil, fmt.Errorf("images of %s: %w", n.Name, err)
		}
		out = append(out, NodeImages{Node: n.Name, Images: imgs})
	}
	return out, nil
}
