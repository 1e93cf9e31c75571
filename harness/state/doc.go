// Package state keeps a lab's state folder: what the lab is (lab.json) and a
// journal of every resource it made (resources.jsonl), written and synced before
// the resource is made. Teardown reads the journal, so `lab down` removes exactly
// what the lab created, even after the lab process died with SIGKILL.
//
//	s, err := state.Create(state.DefaultRoot, "kinns", state.Meta{Nodes: 3})
//	s.Record(state.Resource{Kind: state.KindNetns, Name: "kinns-node-1"})
//	... make the namespace ...
//	rs, _ := s.Resources()
//	for _, r := range state.TeardownOrder(rs) { remove(r) }
//	s.Remove()
package state
