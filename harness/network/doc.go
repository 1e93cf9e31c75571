// Package network lays a topology.Plan down as real namespaces, veths and bridges,
// and takes it apart again. Every step goes through a netlink handle bound to the
// namespace it acts in; nothing is ever done in the host's root namespace.
//
// Each step records what it is about to make through a Recorder before making it,
// so a crash at any point leaves a journal that names everything there is to
// remove.
//
//	b := network.Builder{Record: store.Record, Log: log}
//	err := b.Build(ctx, plan)
package network
