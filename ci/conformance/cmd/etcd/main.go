// Command etcd is etcd's server, built from the go.etcd.io/etcd/server/v3
// module this project pins, for the conformance suite's etcd image (the
// sample API server's storage in the Aggregator test).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
