// Package iptrace follows packets through iptables rules written in
// iptables-restore's format, so that tests can check what rules do to a
// connection rather than how they are spelled. It is small on purpose:
// it knows the filter and nat tables and the matches and targets the
// Service rules use, and it refuses anything else with an error, so that
// a test never passes on rules it misread.
//
// What it models:
//
//   - Tables and chains: Parse and Restore apply restore text with
//     --noflush semantics (declaring a chain flushes it; -X refuses a
//     chain that is built-in, not empty or still referenced; a table
//     changes only at its COMMIT). AppendRule adds a rule given as exec
//     arguments, such as the jumps from built-in chains.
//   - Matches: -s, -d (with !), -p, -m tcp/udp/sctp --dport, comment,
//     statistic --mode random, recent (--set always matches; --rcheck
//     matches the lists in Packet.Recent), mark, conntrack --ctstate
//     (against Packet.State, default NEW), addrtype LOCAL (Ruleset.Local).
//   - Targets: jumps, RETURN, ACCEPT, DROP, REJECT, DNAT, MARK,
//     MASQUERADE; DNAT and MASQUERADE only where the kernel allows them.
//   - Paths: PreRouting runs nat PREROUTING, then filter INPUT for a local
//     destination or filter FORWARD and nat POSTROUTING; Output runs nat
//     OUTPUT, filter OUTPUT, nat POSTROUTING, then filter INPUT for a
//     local destination. Only NEW packets see the nat table.
//
// A rule with -m statistic splits the trace: Trace follows every branch
// and returns each outcome with its probability, so a test can check that
// every endpoint is reachable and that balancing is uniform.
//
// # Example
//
//	rs, err := iptrace.Parse(restoreText)
//	if err != nil { ... } // a rule the tracer cannot model, or a bad one
//	rs.Local = []netip.Addr{nodeIP}
//	rs.AppendRule("nat", "PREROUTING", "-j", "KINNS-SERVICES")
//	res, err := rs.Trace(iptrace.PreRouting, iptrace.Packet{
//		Src: podIP, Dst: clusterIP, Proto: "tcp", DPort: 80,
//	})
//	for _, o := range res.Outcomes {
//		// o.Verdict "ACCEPT", o.DNAT true, o.Dst an endpoint,
//		// o.Probability 1/n, o.Masquerade false for a pod client.
//	}
package iptrace
