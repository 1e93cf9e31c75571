// Package controllers is kinns' controller manager: one process that runs
// the control loops comparing the cluster's desired state with its actual
// state and correcting the difference (claims 4, 15, 16 and 17).
//
// Run builds the controllers listed in Config.Controllers (all by default;
// see Names), gives them one shared informer factory and one events.k8s.io/v1
// broadcaster, and runs each with its workers (Config.Workers for kinns'
// own) until its context is done:
//
//   - endpointslice, endpoints: EndpointSlices and Endpoints of Services
//     (package endpoints);
//   - nodeipam: pod CIDRs for nodes without one (package nodeipam);
//   - nodelifecycle: Unknown status, unreachable/not-ready taints and
//     NoExecute evictions, with a guard that evicts nothing during a
//     control-plane outage (package nodelifecycle);
//   - serviceaccount: the `default` ServiceAccount of every namespace;
//   - root-ca-cert-publisher: the kube-root-ca.crt ConfigMap of every
//     namespace, which pods' service account volumes read (package rootca);
//   - namespace, garbagecollector, root-ca-cert-publisher: upstream's
//     controllers as libraries;
//   - replicaset, deployment: their own packages;
//   - replicationcontroller, daemonset, statefulset, job, cronjob,
//     ttl-after-finished, disruption, resourcequota, podgc,
//     volumeattributesclass-protection,
//     endpointslicemirroring, csrapproving, csrsigning: upstream's
//     controllers (k8s.io/kubernetes/pkg/controller/...) as libraries, one
//     small package each, adapted by internal/upstream (klog bridged to
//     slog, built in Run with the term's context, informers registered in
//     New); they run with kube-controller-manager's default worker counts.
//     csrsigning signs with Config.SigningCertFile and SigningKeyFile (the
//     lab CA).
//
// Every controller package has one constructor, New(deps.Deps, Options)
// (*Controller, error): deps.Deps (package internal/deps) carries the
// controller's client, the shared informer factory, its event recorder and
// its logger, and a controller is one row of the table in registry.go.
//
// Informers watch as system:kube-controller-manager; each controller writes
// as its upstream kube-system ServiceAccount (endpointslice-controller,
// node-controller, …), whose RBAC roles the API server bootstraps. Events
// carry reportingController "kinns-controller-manager/<controller>".
//
// # High availability
//
// With Config.LeaderElect, one manager runs on every control-plane host and
// only the holder of the Lease kube-system/kube-controller-manager acts
// (package leader, on client-go's tools/leaderelection): a standby starts no
// informer and writes nothing; each term builds the controllers and their
// informers afresh; a term ends, and every controller has returned, before
// the Lease is released or can expire, so no controller acts twice. Losing
// the Lease sends the manager back to standing by; it never exits for it.
// The holder is "<Config.Identity>_<uuid>"; the timing of each profile is
// LeaderElectionTiming. The bootstrap RBAC role of
// system:kube-controller-manager allows create, and get and update of the
// Lease named kube-controller-manager.
//
// # Example
//
//	le := controllers.LeaderElectionTiming(controllers.ProfileFast) // 4s / 3s / 500ms
//	le.LeaderElect, le.Identity = true, "cp-2"
//	err := controllers.Run(ctx, controllers.Config{
//		Kubeconfig:     "/var/lib/kinns/L/controller-manager.kubeconfig",
//		NodeTiming:     controllers.Timing(controllers.ProfileFast),
//		LeaderElection: le, // leave it out to act at once
//		Log:            log,
//	}) // returns when ctx is done
package controllers
