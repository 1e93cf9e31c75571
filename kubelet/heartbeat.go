package kubelet

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
)

// leaseNamespace holds the nodes' heartbeat Leases.
const leaseNamespace = "kube-node-lease"

// renewLease keeps the node's Lease renewed every LeaseRenewInterval until
// ctx ends (client-go's lease controller, as the kubelet uses).
func (k *Kubelet) renewLease(ctx context.Context) {
	secs := int32(k.cfg.LeaseDuration / time.Second)
	c := lease.NewController(k.clock, k.client, k.cfg.NodeName, secs, nil,
		k.cfg.LeaseRenewInterval, k.cfg.NodeName, leaseNamespace, k.setLeaseOwner)
	c.Run(ctx)
}

// setLeaseOwner makes the Node own its Lease, so that deleting the Node
// deletes the Lease.
func (k *Kubelet) setLeaseOwner(l *coordinationv1.Lease) error {
	if len(l.OwnerReferences) > 0 {
		return nil
	}
	node := k.node()
	if node == nil {
		return nil
	}
	l.OwnerReferences = []metav1.OwnerReference{{
		APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID,
	}}
	return nil
}

// nodeStatusLoop posts the Node's status every StatusUpdateFrequency.
func (k *Kubelet) nodeStatusLoop(ctx context.Context) {
	t := k.clock.NewTicker(k.cfg.StatusUpdateFrequency)
	defer t.Stop()
	for {
		if err := k.postNodeStatus(ctx); err != nil && ctx.Err() == nil {
			k.log.Warn("post node status", "node", k.cfg.NodeName, "err", err)
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
func (k *Kubelet) postNodeStatus(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, k.cfg.StatusUpdateFrequency+5*time.Second)
	defer cancel()
	nodes := k.client.CoreV1().Nodes()
	node, err := nodes.Get(ctx, k.cfg.NodeName, metav1.GetOptions{ResourceVersion: "0"})
	if apierrors.IsNotFound(err) {
		return k.tryRegister(ctx)
	}
	if err != nil {
		return err
	}
	k.setNode(node)
	patch, err := nodeStatusPatch(node, k.nodeStatus(ctx, node))
	if err != nil {
		return err
	}
	updated, err := nodes.Patch(ctx, k.cfg.NodeName, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil {
		return err
	}
	k.setNode(updated)
	return nil
}

// nodeStatusPatch is a strategic merge patch from the Node's status to st.
func nodeStatusPatch(node *v1.Node, st v1.NodeStatus) ([]byte, error) {
	p, err := twoWayPatch(v1.Node{Status: node.Status}, v1.Node{Status: st}, v1.Node{})
	if err != nil {
		return nil, fmt.Errorf("diff node status: %w", err)
	}
	return p, nil
}

func (k *Kubelet) node() *v1.Node {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.lastNode
}

func (k *Kubelet) setNode(n *v1.Node) {
	k.mu.Lock()
	k.lastNode = n
	k.mu.Unlock()
}
