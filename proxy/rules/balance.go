package rules

import (
	"fmt"
	"strconv"
)

// balance spreads new connections uniformly over eps: rule i of n is
// taken with probability 1/(n-i) by the packets that rule i-1 left, so
// each endpoint gets 1/n, and the last rule takes whatever is left. With
// ClientIP affinity, a client seen recently goes back to its endpoint
// first.
func (w *portWriter) balance(chain string, eps []endpoint) {
	p := w.p
	if p.affinity > 0 {
		for _, ep := range eps {
			sep := w.sepChain(ep)
			w.nat.add(chain, comment(p.name+" -> "+ep.addr.String()),
				[]string{"-m", "recent", "--name", sep, "--rcheck", "--seconds", strconv.Itoa(int(p.affinity)), "--reap"},
				jump(sep))
		}
	}
	for i, ep := range eps {
		var pick []string
		if left := len(eps) - i; left > 1 {
			pick = []string{"-m", "statistic", "--mode", "random", "--probability", probability(left)}
		}
		w.nat.add(chain, comment(p.name+" -> "+ep.addr.String()), pick, jump(w.sepChain(ep)))
	}
}

// probability is 1/n with ten decimals, enough that the rounding error
// over a few hundred endpoints stays far below what anyone could measure.
func probability(n int) string { return fmt.Sprintf("%0.10f", 1/float64(n)) }

// sepChain names the chain of one endpoint of the port.
func (w *portWriter) sepChain(ep endpoint) string {
	return chainName(kindSEP, w.p.hashKey+"/"+ep.addr.String())
}

// endpointChain renders the chain of one endpoint. A pod reaching itself
// through the Service is masqueraded, or it would get a reply from its
// own address to a connection it made to the ClusterIP and drop it. With
// ClientIP affinity the client is remembered under the chain's name.
func (w *portWriter) endpointChain(ep endpoint) {
	p, sep := w.p, w.sepChain(ep)
	w.nat.add(sep, comment(p.name), src(ep.addr.Addr()), jump(chainMarkMasq))
	var remember []string
	if p.affinity > 0 {
		remember = []string{"-m", "recent", "--name", sep, "--set"}
	}
	w.nat.add(sep, comment(p.name), remember, []string{"-p", p.proto, "-m", p.proto},
		[]string{"-j", "DNAT", "--to-destination", ep.addr.String()})
}
