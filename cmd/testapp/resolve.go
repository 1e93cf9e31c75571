package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
)

// lookup answers one --type for name: the answers as lines, sorted, so that
// a spec can compare the output whatever order the server gave.
type lookup func(ctx context.Context, r *net.Resolver, name string) ([]string, error)

// lookups holds a lookup for each --type.
var lookups = map[string]lookup{
	"A":     lookupIP("ip4"),
	"AAAA":  lookupIP("ip6"),
	"SRV":   lookupSRV,
	"CNAME": lookupCNAME,
	"PTR":   lookupPTR,
}

// lookupTypes are the values --type takes.
func lookupTypes() []string { return slices.Sorted(maps.Keys(lookups)) }

func runResolve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseResolveFlags(args)
	if err != nil {
		return flagExit(err, stdout, stderr)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	answers, err := lookups[cfg.Type](ctx, newResolver(cfg.Server), cfg.Name)
	if err == nil && len(answers) == 0 {
		err = fmt.Errorf("resolve %s %s: no answer", cfg.Type, cfg.Name)
	}
	if err != nil {
		fmt.Fprintf(stdout, "error: %s\n", resolveError(cfg, err))
		return 1
	}
	for _, a := range answers {
		fmt.Fprintln(stdout, a)
	}
	return 0
}

// newResolver is the resolver a Go program in a pod has: the pure-Go one,
// which reads /etc/resolv.conf for the nameservers, the search list and
// ndots. A server other than "" gets every query in place of the nameservers;
// the search list and the rest stay as resolv.conf has them.
func newResolver(server string) *net.Resolver {
	r := &net.Resolver{PreferGo: true}
	if server != "" {
		r.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return new(net.Dialer).DialContext(ctx, network, server)
		}
	}
	return r
}

// resolveError is the reason printed after "error: ". A name that does not
// exist gives "NXDOMAIN NAME", with NAME as given, so that a spec can match
// it exactly; Go reports a name that exists without records of the type
// (NODATA) the same way.
func resolveError(cfg resolveConfig, err error) string {
	var de *net.DNSError
	if !errors.As(err, &de) {
		return err.Error()
	}
	if de.IsNotFound {
		return "NXDOMAIN " + cfg.Name
	}
	if cfg.Server == "" {
		return de.Error()
	}
	// The error names the resolv.conf nameserver that Dial replaced.
	c := *de
	c.Server = cfg.Server
	return c.Error()
}

func lookupIP(network string) lookup {
	return func(ctx context.Context, r *net.Resolver, name string) ([]string, error) {
		addrs, err := r.LookupNetIP(ctx, network, name)
		if err != nil {
			return nil, err
		}
		if network == "ip4" {
			for i := range addrs {
				addrs[i] = addrs[i].Unmap() // /etc/hosts gives IPv4 in its 16-byte form
			}
		}
		slices.SortFunc(addrs, netip.Addr.Compare)
		lines := make([]string, 0, len(addrs))
		for _, a := range addrs {
			lines = append(lines, a.String())
		}
		return lines, nil
	}
}

// lookupSRV looks name up as it is, "_http._tcp.web.default.svc.cluster.local"
// say, and prints "PRIORITY WEIGHT PORT TARGET" lines.
func lookupSRV(ctx context.Context, r *net.Resolver, name string) ([]string, error) {
	_, srvs, err := r.LookupSRV(ctx, "", "", name)
	if err != nil {
		return nil, err
	}
	// Go shuffles the records of one priority by weight; a spec wants them stable.
	slices.SortFunc(srvs, func(a, b *net.SRV) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.Weight, b.Weight),
			cmp.Compare(a.Port, b.Port), strings.Compare(a.Target, b.Target))
	})
	lines := make([]string, 0, len(srvs))
	for _, s := range srvs {
		lines = append(lines, fmt.Sprintf("%d %d %d %s", s.Priority, s.Weight, s.Port, s.Target))
	}
	return lines, nil
}

func lookupCNAME(ctx context.Context, r *net.Resolver, name string) ([]string, error) {
	cname, err := r.LookupCNAME(ctx, name)
	if err != nil {
		return nil, err
	}
	return []string{cname}, nil
}

// lookupPTR takes an address (checkResolve made sure) and prints its names.
func lookupPTR(ctx context.Context, r *net.Resolver, addr string) ([]string, error) {
	names, err := r.LookupAddr(ctx, addr)
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	return names, nil
}
