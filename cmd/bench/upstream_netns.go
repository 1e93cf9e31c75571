package main

import (
	"bytes"
	"time"

	"k8s.io/component-helpers/node/util/sysctl"
	utiliptables "k8s.io/kubernetes/pkg/util/iptables"

	"github.com/kinns/kinns/cni/netns"
)

// nsIPTables is upstream's iptables runner (utiliptables.New) with each
// call made on a thread locked inside the namespace at path: the runner
// execs iptables on its caller's goroutine, so every command is forked in
// that namespace, whichever goroutine of the proxier calls. Each method is
// written out, none embedded, so that a method upstream adds to the
// interface fails the build instead of running in the host's namespace.
type nsIPTables struct {
	path string
	run  utiliptables.Interface
}

var _ utiliptables.Interface = nsIPTables{}

func (n nsIPTables) EnsureChain(table utiliptables.Table, chain utiliptables.Chain) (existed bool, err error) {
	err = netns.Do(n.path, func() (e error) { existed, e = n.run.EnsureChain(table, chain); return e })
	return existed, err
}

func (n nsIPTables) FlushChain(table utiliptables.Table, chain utiliptables.Chain) error {
	return netns.Do(n.path, func() error { return n.run.FlushChain(table, chain) })
}

func (n nsIPTables) DeleteChain(table utiliptables.Table, chain utiliptables.Chain) error {
	return netns.Do(n.path, func() error { return n.run.DeleteChain(table, chain) })
}

func (n nsIPTables) ChainExists(table utiliptables.Table, chain utiliptables.Chain) (exists bool, err error) {
	err = netns.Do(n.path, func() (e error) { exists, e = n.run.ChainExists(table, chain); return e })
	return exists, err
}

func (n nsIPTables) EnsureRule(position utiliptables.RulePosition, table utiliptables.Table, chain utiliptables.Chain, args ...string) (existed bool, err error) {
	err = netns.Do(n.path, func() (e error) { existed, e = n.run.EnsureRule(position, table, chain, args...); return e })
	return existed, err
}

func (n nsIPTables) DeleteRule(table utiliptables.Table, chain utiliptables.Chain, args ...string) error {
	return netns.Do(n.path, func() error { return n.run.DeleteRule(table, chain, args...) })
}

func (n nsIPTables) IsIPv6() bool { return n.run.IsIPv6() }

func (n nsIPTables) Protocol() utiliptables.Protocol { return n.run.Protocol() }

func (n nsIPTables) SaveInto(table utiliptables.Table, buffer *bytes.Buffer) error {
	return netns.Do(n.path, func() error { return n.run.SaveInto(table, buffer) })
}

func (n nsIPTables) Restore(table utiliptables.Table, data []byte, flush utiliptables.FlushFlag, counters utiliptables.RestoreCountersFlag) error {
	return netns.Do(n.path, func() error { return n.run.Restore(table, data, flush, counters) })
}

func (n nsIPTables) RestoreAll(data []byte, flush utiliptables.FlushFlag, counters utiliptables.RestoreCountersFlag) error {
	return netns.Do(n.path, func() error { return n.run.RestoreAll(data, flush, counters) })
}

// Monitor does nothing: upstream's polls canary chains for as long as the
// process lives, to resync after someone flushes the tables; the bench
// removes the namespace after one sync.
func (n nsIPTables) Monitor(utiliptables.Chain, []utiliptables.Table, func(), time.Duration, <-chan struct{}) {
}

func (n nsIPTables) Present() error {
	return netns.Do(n.path, func() error { return n.run.Present() })
}

// nsSysctl reads and writes network sysctls inside the namespace at path:
// the proxier sets route_localnet for its localhost NodePorts, which must
// never change the host.
type nsSysctl struct {
	path string
	run  sysctl.Interface
}

func (n nsSysctl) GetSysctl(name string) (value int, err error) {
	err = netns.Do(n.path, func() (e error) { value, e = n.run.GetSysctl(name); return e })
	return value, err
}

func (n nsSysctl) SetSysctl(name string, value int) error {
	return netns.Do(n.path, func() error { return n.run.SetSysctl(name, value) })
}
