// Package deployment is kinns' Deployment controller: it rolls each
// Deployment out through ReplicaSets, one per pod template, and reports
// progress in the Deployment's status the way kubectl expects.
//
// It follows kube-controller-manager's behaviour, written afresh on
// client-go:
//
//   - ReplicaSets belong to a deployment through a controller owner
//     reference (adopted and released by selector). The one whose template
//     equals the deployment's, ignoring the pod-template-hash label, is the
//     new set; the others are old. A new set is named
//     <deployment>-<TemplateHash> and carries that hash in its labels,
//     selector and template.
//   - Revisions: the new set gets deployment.kubernetes.io/revision = the
//     highest old revision + 1, also written on the deployment. Returning
//     to an old template (kubectl rollout undo patches the template back)
//     reuses that old set and gives it the next revision; its former ones
//     go to revision-history. Sets also carry desired-replicas and
//     max-replicas, which detect scaling and drive proportional scaling.
//   - RollingUpdate: the new set grows while the pods asked for stay within
//     replicas+maxSurge (rounded up), old sets shrink while available pods
//     stay at least replicas-maxUnavailable (rounded down; 1 if both are
//     0). Recreate: old sets go to 0, and once none of their pods runs the
//     new set goes to full size.
//   - A change of spec.replicas during a rollout is shared among the
//     active sets in proportion to their size. A paused deployment scales
//     but never rolls out; kubectl rollout restart changes the template, so
//     it rolls out like any template change.
//   - Old sets beyond revisionHistoryLimit are deleted once empty.
//   - Status: replicas, updatedReplicas, readyReplicas, availableReplicas,
//     unavailableReplicas, observedGeneration, collisionCount; conditions
//     Available (MinimumReplicasAvailable / MinimumReplicasUnavailable) and
//     Progressing (NewReplicaSetCreated, FoundNewReplicaSet,
//     ReplicaSetUpdated, NewReplicaSetAvailable, ProgressDeadlineExceeded,
//     DeploymentPaused, DeploymentResumed, ReplicaSetCreateError).
//
// Events: ScalingReplicaSet ("Scaled up replica set web-5d4f8 from 0 to
// 1"), FailedCreate, SelectingAll.
//
// # Example
//
//	factory := informers.NewSharedInformerFactory(client, 0)
//	d := deps.Deps{Client: client, Factory: factory, Recorder: recorder, Log: log}
//	dc, err := deployment.New(d, deployment.Options{})
//	factory.Start(ctx.Done()) // after New: New registers the informers
//	dc.Run(ctx, 5)            // blocks until ctx is done
package deployment
