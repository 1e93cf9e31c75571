package main

import (
	"slices"
	"testing"
)

func TestLabProcesses(t *testing.T) {
	procs := []procInfo{
		{pid: 10, ppid: 1, argv: []string{"/bin/lab", "component", "etcd"}, rssKB: 1000},
		{pid: 11, ppid: 10, argv: []string{"child"}, rssKB: 10},
		{pid: 20, ppid: 1, argv: []string{"/usr/bin/containerd-shim-runc-v2", "-namespace", "l-node-1", "-id", "x"}},
		{pid: 21, ppid: 20, argv: []string{"/testapp"}},
		{pid: 30, ppid: 1, argv: []string{"/usr/bin/containerd-shim-runc-v2", "-namespace", "other-node-1", "-id", "y"}},
		{pid: 31, ppid: 30, argv: []string{"/testapp"}},
		{pid: 40, ppid: 1, argv: []string{"/usr/bin/containerd"}},
	}
	var got []int
	for _, p := range labProcesses(procs, []int{10}, []string{"l-node-1", "l-node-2"}) {
		got = append(got, p.pid)
	}
	if want := []int{10, 11, 20, 21}; !slices.Equal(got, want) {
		t.Errorf("picked %v, want %v", got, want)
	}
}
