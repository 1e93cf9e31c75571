// Package server is the kubelet's HTTPS API on port 10250, the part the API
// server calls for `kubectl logs`, `kubectl exec`, `kubectl attach` and
// `kubectl port-forward`:
//
//	GET       /containerLogs/{namespace}/{pod}/{container}?follow=&previous=&tailLines=&sinceSeconds=&sinceTime=&timestamps=&limitBytes=&stream=
//	GET|POST  /exec/{namespace}/{pod}[/{uid}]/{container}?command=…&input=1&output=1&error=1&tty=1
//	GET|POST  /attach/{namespace}/{pod}[/{uid}]/{container}?input=1&output=1&error=1&tty=1
//	GET|POST  /portForward/{namespace}/{pod}[/{uid}]
//	GET       /healthz
//
// Every request is authenticated and authorized as the upstream kubelet
// does with --anonymous-auth=false, --authentication-token-webhook and
// --authorization-mode=Webhook, through k8s.io/apiserver's delegating
// authenticator and authorizer (answers cached: tokens 2 min, allowed 5 min,
// refused 30 s). The caller is a client certificate signed by
// Config.ClientCAFile (user CN, groups O) or a bearer token the API server
// vouches for (TokenReview); without either the answer is 401. Then the API
// server decides (SubjectAccessReview) whether that user may <verb> the node
// Config.NodeName's subresource: proxy for exec, attach, containerLogs and
// portForward, stats, metrics, log, checkpoint, configz… for the paths named
// after them (requestAttributes); a refusal is a 403 that says
// "Forbidden (user=U, verb=V, resource=nodes, subresource(s)=[S])". The API
// server's kubelet client is in system:masters, so it may do anything; a
// service account needs a role with nodes/proxy (for example
// system:kubelet-api-admin); a node's own certificate is refused, as the Node
// authorizer grants no nodes/proxy. Errors are plain text; a Provider error
// wrapping ErrNotFound is a 404.
//
// Exec and port-forward speak every protocol kube-apiserver v1.37 may send:
// SPDY (remote command v4…v1, portforward.k8s.io) through the CRI streaming
// handlers of k8s.io/cri-streaming, and websocket v5.channel.k8s.io exec and
// SPDY/3.1+portforward.k8s.io tunnels through the API server's translators,
// as the upstream kubelet does. The API server sends those websockets only to
// nodes listing ExtendWebSocketsToKubelet in status.declaredFeatures; for
// other nodes it translates them to SPDY itself. Both work here, so declaring
// the feature is optional. The CRI handlers log through klog.
//
// The kubelet core implements Provider and runs the server next to its loops:
//
//	err := server.Run(ctx, server.Config{
//		Address:      ":10250",
//		CertFile:     paths.KubeletCert("node-1"),
//		KeyFile:      paths.KubeletKey("node-1"),
//		ClientCAFile: paths.CACert(),
//		NodeName:     "node-1",
//		Client:       client, // reviews callers' tokens and rights
//		Log:          log.With("component", "kubelet-server"), // paths: a pki.Paths
//	}, kubelet)
package server
