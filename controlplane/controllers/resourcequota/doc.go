// Package resourcequota keeps every ResourceQuota's status: the hard limits
// of its spec and what the namespace uses now (pods, requests and limits,
// object counts of every quotable resource), recalculated when objects come
// and go. The API server's ResourceQuota admission plugin refuses a request
// over a quota against that status, with upstream's "exceeded quota: …"
// message, and refuses everything a quota covers until the status is
// written.
//
// The work is upstream's ResourceQuota controller
// (k8s.io/kubernetes/pkg/controller/resourcequota, v1.37.2) with upstream's
// evaluators (k8s.io/kubernetes/pkg/quota/v1/install), imported as
// libraries. It is built in Run once discovery answers, because it reads
// the quotable resources when it is built, and it watches each of them
// through the shared typed or metadata informers, which it starts itself.
//
// # Example
//
//	c, err := resourcequota.New(deps.Deps{Client: client, Factory: factory, Log: log},
//		resourcequota.Options{MetadataInformers: metaFactory, InformersStarted: started})
//	factory.Start(ctx.Done()); metaFactory.Start(ctx.Done()); close(started)
//	c.Run(ctx, resourcequota.Workers)
package resourcequota
