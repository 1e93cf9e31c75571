package runtime

import "time"

// StoredImage is an image in the node's containerd namespace, as image
// garbage collection sees it.
type StoredImage struct {
	// Name is the image's reference ("kinns.local/testapp:latest"); Digest
	// its manifest's (or index's).
	Name, Digest string
	// Size is its content for this platform, as upstream's kubelet counts
	// an image's size; removing it frees at most that (less when another
	// namespace holds the same blobs).
	Size int64
	// Created is when it came into the namespace (pulled or imported).
	Created time.Time
	// Pinned images are never collected (containerd CRI's
	// io.cri-containerd.pinned label).
	Pinned bool
}
