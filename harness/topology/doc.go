// Package topology turns a lab's name and size into plain data: which hosts exist,
// what their namespaces, links and addresses are called. It makes nothing; the
// network package lays it down. Names and addresses derive from the host's index so
// that a person reading `ip a` inside a namespace can tell where they are.
//
//	p, err := topology.New("kinns", 3)
//	n1, _ := p.Host("node-1")
//	fmt.Println(n1.Netns, n1.IP, n1.PodCIDR) // kinns-node-1 10.89.0.21 10.244.1.0/24
package topology
