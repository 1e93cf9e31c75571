// Command lab-proxy runs a lab node's Service proxy for the harness, as `lab
// component proxy` does. It links the proxy alone, not the lab's control plane
// and kubelet, so each node's process maps some 100 MB of code fewer (make
// bench's rss_per_node_mb).
package main

import (
	"github.com/kinns/kinns/cmd/internal/component"
	"github.com/kinns/kinns/cmd/internal/runproxy"
)

func main() { component.Main("lab-proxy", map[string]component.Runner{"proxy": runproxy.Run}) }
