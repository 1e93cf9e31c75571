package rules

import "slices"

// Jumps lists the rules in built-in chains that lead into ours, in the
// order the proxy should ensure them. Each call returns new slices.
//
// The filter jumps only look at new connections: rejecting and dropping
// are decisions about whether a connection may start, and skipping them
// for established traffic keeps the cost per packet low.
func Jumps() []Jump {
	newConn := []string{"-m", "conntrack", "--ctstate", "NEW"}
	portals := slices.Concat(execComment("kinns service portals"), jump(chainServices))
	external := slices.Concat(execComment("kinns external services"), jump(chainExternalServices))
	return []Jump{
		{Table: "nat", Chain: "PREROUTING", Args: slices.Clone(portals)},
		{Table: "nat", Chain: "OUTPUT", Args: slices.Clone(portals)},
		{Table: "nat", Chain: "POSTROUTING", Args: slices.Concat(execComment("kinns postrouting rules"), jump(chainPostrouting))},
		{Table: "filter", Chain: "INPUT", Args: slices.Concat(newConn, portals)},
		{Table: "filter", Chain: "FORWARD", Args: slices.Concat(newConn, portals)},
		{Table: "filter", Chain: "OUTPUT", Args: slices.Concat(newConn, portals)},
		{Table: "filter", Chain: "INPUT", Args: slices.Concat(newConn, external)},
		{Table: "filter", Chain: "FORWARD", Args: slices.Concat(newConn, external)},
		{Table: "filter", Chain: "FORWARD", Args: slices.Concat(execComment("kinns forwarding rules"), jump(chainForward))},
	}
}

// execComment is a comment as one exec argument: no quotes, since no shell
// or restore parser splits it.
func execComment(text string) []string { return []string{"-m", "comment", "--comment", text} }
