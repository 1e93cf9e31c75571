// Package server is the kubelet's HTTPS API on port 10250, the part the API
// server calls for `kubectl logs`, `kubectl exec` and `kubectl port-forward`:
//
//	GET       /containerLogs/{namespace}/{pod}/{container}?follow=&previous=&tailLines=&sinceSeconds=&sinceTime=&timestamps=&limitBytes=&stream=
//	GET|POST  /exec/{namespace}/{pod}[/{uid}]/{container}?command=…&input=1&output=1&error=1&tty=1
//	GET|POST  /portForward/{namespace}/{pod}[/{uid}]
//	GET       /healthz   (no client certificate needed)
//
// Callers authenticate with a client certificate signed by Config.ClientCAFile;
// only the API server's kubelet client (CN kube-apiserver-kubelet-client) and
// members of system:masters are served: 401 without a certificate, 403 for
// anyone else. Errors are plain text; a Provider error wrapping ErrNotFound
// is a 404.
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
//		Log:          log.With("component", "kubelet-server"), // paths: a pki.Paths
//	}, kubelet)
package server
