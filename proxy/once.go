package proxy

import (
	"context"
	"net/netip"
	"time"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// SyncOnce does what one sync of the proxy does, for the given objects
// instead of the API's: read the tables, render every rule, apply them in
// one restore. It is for tools that measure or check the proxy's work
// outside a lab (a benchmark of a full sync); it returns the number of
// rules written.
func SyncOnce(ctx context.Context, cfg Config, ipt IPTables, services []*v1.Service, slices []*discoveryv1.EndpointSlice) (int, error) {
	p, err := parse(cfg)
	if err != nil {
		return 0, err
	}
	svcs := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, s := range services {
		svcs.Add(s)
	}
	eps := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, s := range slices {
		eps.Add(s)
	}
	m := newMetrics()
	s := &syncer{
		cfg: p, ipt: ipt, ct: noConntrack{}, services: corelisters.NewServiceLister(svcs),
		slices: discoverylisters.NewEndpointSliceLister(eps), health: newHealthChecks(p.nodeIP.String(), p.Log),
		metrics: m, now: time.Now,
	}
	defer s.health.closeAll()
	if err := s.sync(ctx); err != nil {
		return 0, err
	}
	return s.lastRules, nil
}

// noConntrack clears nothing: a single sync has no earlier state to clear.
type noConntrack struct{}

func (noConntrack) ClearEndpoint(netip.AddrPort) error             { return nil }
func (noConntrack) ClearService(netip.Addr, int32) error           { return nil }
func (noConntrack) ClearUnansweredTCP(_, _ []netip.AddrPort) error { return nil }
