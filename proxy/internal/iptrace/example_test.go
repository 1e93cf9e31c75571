package iptrace_test

import (
	"fmt"
	"net/netip"

	"github.com/kinns/kinns/proxy/internal/iptrace"
)

// Two endpoints behind a virtual IP, half of the connections each.
func Example() {
	rs, err := iptrace.Parse([]byte(`*nat
:SVC - [0:0]
-A SVC -m statistic --mode random --probability 0.5 -p tcp -j DNAT --to-destination 10.244.1.5:8080
-A SVC -p tcp -j DNAT --to-destination 10.244.2.6:8080
COMMIT
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := rs.AppendRule("nat", "PREROUTING", "-d", "10.96.0.10", "-p", "tcp", "--dport", "80", "-j", "SVC"); err != nil {
		fmt.Println(err)
		return
	}
	res, err := rs.Trace(iptrace.PreRouting, iptrace.Packet{
		Src: netip.MustParseAddr("10.244.1.20"), Dst: netip.MustParseAddr("10.96.0.10"), Proto: "tcp", DPort: 80,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range res.Outcomes {
		fmt.Println(o.Verdict, o.Dst, o.Probability)
	}
	// Output:
	// ACCEPT 10.244.1.5:8080 0.5
	// ACCEPT 10.244.2.6:8080 0.5
}
