// Package imagegc is the kubelet's image garbage collection, as upstream's
// image GC manager behaves: every period it measures the filesystem that
// holds containerd's content and snapshots; when usage reaches the high
// threshold it removes this node's images that no container uses, least
// recently used first, sparing images younger than the minimum age and
// pinned ones, until it has freed enough to be under the low threshold.
// When it cannot, it emits upstream's Warning events on the Node
// (FreeDiskSpaceFailed at once, ImageGCFailed on a second failure in a row).
//
// All nodes of every lab share one containerd and one disk: each node's
// kubelet removes images of its own containerd namespace only, and what a
// removal frees is only what no other namespace references (containerd's
// content is shared; its garbage collection frees a blob once no namespace
// holds it). So a node may count as freed bytes another node still holds,
// as upstream counts an image's size as freed.
//
// Decide is the pure decision (what to remove, in which order, how much);
// Manager does the IO through a Store and a disk measure.
//
//	m := imagegc.New(imagegc.Config{Policy: p, Period: 5 * time.Minute, FS: "/var/lib/kinns/containerd/root", Node: "node-1"},
//		imagegc.Deps{Store: rt, Events: recorder})
//	go m.Run(ctx)
package imagegc
