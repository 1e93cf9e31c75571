// Package cronjob creates the Jobs of every CronJob on its schedule (time
// zones, startingDeadlineSeconds, concurrency policy Allow, Forbid or
// Replace, suspension) and keeps its successful and failed history to
// their limits.
//
// The work is upstream's CronJob controller (v2,
// k8s.io/kubernetes/pkg/controller/cronjob, v1.37.2), imported as a
// library. It reads the real clock, with no option to change it, so a
// schedule of "*/1 * * * *" fires at the next whole minute.
//
// # Example
//
//	c, err := cronjob.New(deps.Deps{Client: client, Factory: factory, Log: log}, cronjob.Options{})
//	factory.Start(ctx.Done())
//	c.Run(ctx, cronjob.Workers)
package cronjob
