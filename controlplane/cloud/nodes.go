package cloud

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
)

// initNodes gives every node without a providerID the one the provider's
// InstancesV2 says, every interval until ctx ends. (The upstream cloud
// node controller initializes only nodes registered with the
// uninitialized taint, which would hold every pod until this manager
// runs; the lab's kubelets register ready to take pods, and the addresses
// they report are already the fabric's.)
func initNodes(ctx context.Context, client kubernetes.Interface, p *Provider, nodes corelisters.NodeLister, interval time.Duration, log *slog.Logger) {
	for {
		ns, _ := nodes.List(labels.Everything())
		for _, n := range ns {
			if n.Spec.ProviderID != "" {
				continue
			}
			md, err := p.InstanceMetadata(ctx, n)
			if err != nil {
				continue
			}
			patch, _ := json.Marshal(map[string]any{"spec": map[string]string{"providerID": md.ProviderID}})
			if _, err := client.CoreV1().Nodes().Patch(ctx, n.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil && ctx.Err() == nil {
				log.Info("set providerID", "node", n.Name, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}
