// Command lab-kubelet runs a lab node's kubelet for the harness, as `lab
// component kubelet` does. It links the kubelet alone, not the lab's control
// plane, so each node's process maps some 60 MB of code fewer (make bench's
// rss_per_node_mb).
package main

import (
	"github.com/kinns/kinns/cmd/internal/component"
	"github.com/kinns/kinns/cmd/internal/runkubelet"
)

func main() { component.Main("lab-kubelet", map[string]component.Runner{"kubelet": runkubelet.Run}) }
