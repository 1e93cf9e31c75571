// Package registry runs kinns' local image registry: an OCI distribution
// registry (go-containerregistry's pkg/registry) on 127.0.0.1:PORT of the
// host, for every lab of this machine, as kind's local-registry recipe runs
// one on localhost:5001. Nodes pull from it as localhost:PORT/NAME:TAG.
//
// It is host-wide, not a lab's: each port is one registry, with its files in
// StateRoot/registries/PORT/ (blobs/ on disk, manifests.jsonl, registry.log,
// the process record). Blobs and manifests both survive Down and a later Up
// on the same port (manifests are journaled and replayed at start); Purge
// removes them.
//
//	r := registry.Registry{StateRoot: "/var/lib/kinns", Port: 5001, Binary: "/usr/local/bin/lab"}
//	st, err := r.Up(ctx, registry.Options{User: "me", Password: "secret"})
//	refs, err := r.Push(ctx, "testapp.tar", "")  // localhost:5001/testapp:latest
//	err = r.Down(ctx, false)
//
// The process Up starts runs Serve (`lab registry serve`), which serves the
// listener Up opened, so a port in use is an error of Up itself.
package registry
