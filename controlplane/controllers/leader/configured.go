package leader

import (
	"context"
	"log/slog"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kinns/kinns/controlplane/controllers/config"
)

// RunConfigured runs term at once or, with le.LeaderElect, during each term
// this instance holds the Lease kube-system/<name>, as the scheduler and
// the controller manager are configured.
func RunConfigured(ctx context.Context, le config.LeaderElection, client kubernetes.Interface, name string, log *slog.Logger, term func(context.Context) error) error {
	if !le.LeaderElect {
		return term(ctx)
	}
	id, err := HolderIdentity(le.Identity)
	if err != nil {
		return err
	}
	return Run(ctx, Options{
		Client: client, Namespace: metav1.NamespaceSystem, Name: name, Identity: id,
		LeaseDuration: le.LeaseDuration, RenewDeadline: le.RenewDeadline, RetryPeriod: le.RetryPeriod,
		Log: log,
	}, term)
}
