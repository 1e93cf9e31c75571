// Package job runs the pods of every Job to completion: completions and
// parallelism, the backoff limit (per index too), indexed Jobs, the pod
// failure and success policies, activeDeadlineSeconds, suspension.
//
// The work is upstream's Job controller
// (k8s.io/kubernetes/pkg/controller/job, v1.37.2), imported as a library.
// The Workload and PodGroup informers it takes are left out, as
// kube-controller-manager does while the WorkloadWithJob feature (alpha) is
// off.
//
// # Example
//
//	c, err := job.New(deps.Deps{Client: client, Factory: factory, Log: log}, job.Options{})
//	factory.Start(ctx.Done())
//	c.Run(ctx, job.Workers)
package job
