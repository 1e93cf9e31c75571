// Command lab boots, inspects, breaks and tears down kinns labs: real multi-node
// Kubernetes clusters whose hosts are Linux network namespaces.
package main

import (
	"errors"
	"fmt"
	"os"
)

func main() {
	err := newRootCmd().Execute()
	var ee exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		os.Exit(int(ee))
	default:
		fmt.Fprintf(os.Stderr, "lab: %v\n", err)
		os.Exit(1)
	}
}

// exitError carries a command's own exit status through cobra (lab exec).
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
