// Package apiserver runs the real Kubernetes API server (kube-apiserver, imported
// from k8s.io/kubernetes as a library) for a kinns lab, in front of the lab's
// three-member etcd.
//
// Using the real server rather than a look-alike is what makes a lab wire
// compatible with every kubectl and client-go program: validation, defaults,
// strategic merge patches, Table output, OpenAPI, watch bookmarks, RBAC, the Node
// authorizer and NodeRestriction all behave as in any cluster. kinns adds what the
// lab needs around it: the flags that fit the lab's address plan and timing
// profile (etcd reached over TLS with the etcd CA's apiserver-etcd-client
// certificate, Secrets encrypted in etcd as config.EncryptionConfig says), and a
// quorum guard that makes writes fail fast, with a clear
// metav1.Status, while etcd has no quorum (instead of hanging until the client
// gives up).
//
//	cfg := apiserver.Config{AdvertiseIP: "10.89.0.11", EtcdServers: servers, PKI: paths}
//	err := apiserver.Run(ctx, cfg) // returns when ctx is done
package apiserver
