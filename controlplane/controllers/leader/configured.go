package leader

import (
	"context"
	"log/slog"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kinns/kinns/controlplane/apiready"
	"github.com/kinns/kinns/controlplane/controllers/config"
)

// RunConfigured runs term at once or, with le.LeaderElect, during each term
// this instance holds the Lease kube-system/<name>, as the scheduler and
// the controller manager are configured.
//
// Either way it first waits for the API server to be ready (apiready): the
// harness starts these components while it boots, and a term's informers
// would otherwise back off for seconds after a first failed list.
func RunConfigured(ctx context.Context, le config.LeaderElection, client kubernetes.Interface, name string, log *slog.Logger, term func(context.Context) error) error {
	if err := apiready.Wait(ctx, client.Discovery().RESTClient(), log); err != nil {
		return nil // ctx ended
	}
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
