// Package replicaset is kinns' ReplicaSet controller: it keeps exactly
// spec.replicas active pods for every ReplicaSet and reports what it sees in
// the ReplicaSet's status.
//
// It follows the shape of kube-controller-manager's controller, written
// afresh on client-go:
//
//   - Informer handlers only enqueue namespace/name keys; sync(key) reads
//     the listers, copies before changing anything, and is level-based.
//   - Pods belong to a ReplicaSet through a controller owner reference.
//     Orphans matching the selector are adopted, owned pods that stop
//     matching are released (ControllerRef semantics).
//   - Expectations record the creations and deletions sync asked for; until
//     the pod informer has seen them (or 5 minutes passed) sync does not
//     act on the pod count, so a stale cache never creates pods twice.
//   - Creations run in batches of 1, 2, 4, … that stop at the first error.
//     Deletions prefer pods that are unscheduled, pending, not ready,
//     cheap (pod-deletion-cost), doubled up on a node, recently ready,
//     restarting, newer — in that order.
//   - Pods that finished or are terminating do not count. Status carries
//     replicas, fullyLabeledReplicas, readyReplicas, availableReplicas
//     (ready for minReadySeconds), observedGeneration and a ReplicaFailure
//     condition while create/delete calls fail; it is written through the
//     status subresource.
//
// Events: SuccessfulCreate, SuccessfulDelete, FailedCreate, FailedDelete.
//
// # Example
//
//	factory := informers.NewSharedInformerFactory(client, 0)
//	d := deps.Deps{Client: client, Factory: factory, Recorder: recorder, Log: log}
//	rs, err := replicaset.New(d, replicaset.Options{})
//	factory.Start(ctx.Done()) // after New: New registers the informers
//	rs.Run(ctx, 5)            // blocks until ctx is done
package replicaset
