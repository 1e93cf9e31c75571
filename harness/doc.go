// Package harness boots, inspects, breaks and tears down kinns labs. It is the one
// Go API that both the `lab` command and the Ginkgo specs use.
//
//	lab, err := harness.Up(ctx, harness.Config{Name: "demo", Nodes: 3})
//	if err != nil { ... }             // a failed bring-up already removed what it made
//	defer lab.Down(context.Background())
//	out, err := lab.Exec(ctx, "node-1", "ping", "-c1", "10.89.0.23")
//
// Everything a lab makes is recorded in its state folder before it is made, so
// harness.Down(ctx, root, name) removes exactly that, even after the process that
// brought the lab up was killed.
package harness
