// Package steps runs a bring-up declared as data: a list of named steps,
// each naming the steps it comes after. Run starts every step as soon as
// the steps it names have finished, so independent steps run at once, and
// stops starting new ones at the first failure.
//
// The lab's bring-up (harness.Lab) is such a list: adding a component is a
// row in the harness's component table and a step here, not a new branch
// of hand-written goroutines.
//
//	err := steps.Run(ctx, []steps.Step{
//		{Name: "network", Run: buildNetwork},
//		{Name: "pki", Run: makePKI},
//		{Name: "etcd", After: []string{"network", "pki"}, Run: startEtcd},
//	}, nil)
package steps
