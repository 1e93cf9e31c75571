package node

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/component-helpers/apimachinery/lease"

	"github.com/kinns/kinns/kubelet/internal/patch"
)

// leaseNamespace holds the nodes' heartbeat Leases.
const leaseNamespace = "kube-node-lease"

// renewLease keeps the node's Lease renewed every LeaseRenewInterval until
// ctx ends (client-go's lease controller, as the kubelet uses).
func (a *Agent) renewLease(ctx context.Context) {
	secs := int32(a.cfg.LeaseDuration / time.Second)
	c := lease.NewController(a.clock, a.heartbeat, a.cfg.NodeName, secs, nil,
		a.cfg.LeaseRenewInterval, a.cfg.NodeName, leaseNamespace, a.setLeaseOwner)
	c.Run(ctx)
}

// setLeaseOwner makes the Node own its Lease, so that deleting the Node
// deletes the Lease.
func (a *Agent) setLeaseOwner(l *coordinationv1.Lease) error {
	if len(l.OwnerReferences) > 0 {
		return nil
	}
	node := a.node()
	if node == nil {
		return nil
	}
	l.OwnerReferences = []metav1.OwnerReference{{
		APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID,
	}}
	return nil
}

// nodeStatusLoop posts the Node's status every StatusUpdateFrequency.
func (a *Agent) nodeStatusLoop(ctx context.Context) {
	t := a.clock.NewTicker(a.cfg.StatusUpdateFrequency)
	defer t.Stop()
	for {
		if err := a.postNodeStatus(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("post node status", "node", a.cfg.NodeName, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// postNodeStatus reads the Node and patches its status, as the kubelet
// does: a patch of the status alone never conflicts with the controllers
// that write the Node's spec (taints) and is allowed by NodeRestriction;
// reading first makes the patch undo what they set in the status (Ready
// Unknown). A Node deleted meanwhile is registered again.
func (a *Agent) postNodeStatus(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.StatusUpdateFrequency+5*time.Second)
	defer cancel()
	nodes := a.heartbeat.CoreV1().Nodes()
	node, err := nodes.Get(ctx, a.cfg.NodeName, metav1.GetOptions{ResourceVersion: "0"})
	if apierrors.IsNotFound(err) {
		return a.tryRegister(ctx)
	}
	if err != nil {
		return err
	}
	a.setNode(node)
	patch, err := nodeStatusPatch(node, a.nodeStatus(ctx, node))
	if err != nil {
		return err
	}
	updated, err := nodes.Patch(ctx, a.cfg.NodeName, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil {
		return err
	}
	a.setNode(updated)
	return nil
}

// nodeStatusPatch is a strategic merge patch from the Node's status to st.
func nodeStatusPatch(node *v1.Node, st v1.NodeStatus) ([]byte, error) {
	p, err := patch.TwoWay(v1.Node{Status: node.Status}, v1.Node{Status: st}, v1.Node{})
	if err != nil {
		return nil, fmt.Errorf("diff node status: %w", err)
	}
	return p, nil
}

func (a *Agent) node() *v1.Node {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lastNode
}

func (a *Agent) setNode(n *v1.Node) {
	a.mu.Lock()
	a.lastNode = n
	a.mu.Unlock()
}
