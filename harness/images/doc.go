// Package images makes the container images a lab runs, and puts them into
// containerd: no registry is reachable, so kinns builds its test image from this
// repository's cmd/testapp and imports it into every node's namespace.
//
// The test image, kinns.local/testapp:latest, is one layer holding the static
// /testapp binary. BuildArchive writes it as an OCI archive (with Docker's
// manifest.json too) named after the binary's sha256, so building it again for
// the same binary is a cache hit. Import loads an archive into a containerd
// namespace and unpacks it for overlayfs, so a pod's first start is fast.
//
//	bin, err := images.FindTestApp() // _output/bin/testapp, or $KINNS_TESTAPP
//	if err != nil { ... }             // says to run `make build`
//	archive, err := images.BuildArchive(ctx, bin, filepath.Join(stateRoot, "images"))
//	name, err := images.Import(ctx, daemonAddress, "kinns-node-1", archive)
//	// name == images.TestAppImage
//
// ImportArchive does the same for a user's OCI or `docker save` archive and
// returns every image name it holds.
package images
