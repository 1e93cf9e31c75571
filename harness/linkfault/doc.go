// Package linkfault breaks and mends one lab host's link to the fabric: the
// veth pair whose host end is topology.HostLink inside the host's namespace
// and whose fabric end is the host's port on the fabric bridge. Every fault is
// the real thing, done by the kernel, and every one is undone by Heal.
//
// A fault describes the link, so it acts on every packet that crosses it, in
// both directions: "loss 30" drops 30% of each way, "rate 1mbit" allows 1 Mbit/s
// each way, and "delay 100" holds each packet 100 ms each way, so a round trip
// from the host to any other grows by 200 ms.
//
//   - down: the fabric end is set down, as if the cable were pulled; the host
//     sees its link lose carrier. Heal sets both ends up.
//   - loss PERCENT: in the host's namespace, chains KINNS-LINKFAULT-LOSS-IN and
//     -OUT of the mangle table drop packets with `-m statistic --mode random
//     --probability P -j DROP`; PREROUTING jumps to -IN for packets in over the
//     link, POSTROUTING to -OUT for packets out over it. Those two hooks see the
//     host's own traffic and, on a node, the pods' traffic it forwards. Heal
//     deletes the jumps to our chains and the chains, nothing else.
//   - rate RATE: a tbf qdisc (handle 6b6e:) at the root of both ends: the host
//     end limits what the host sends, the fabric end what it receives. Heal
//     removes our tbf, and the kernel's default qdisc comes back.
//   - delay MS [JITTER]: a netem qdisc (handle 6b6f:) at the root of both ends
//     where the kernel has netem. Where it does not, the KINNS-LINKFAULT-DELAY
//     chains send the link's packets to NFQUEUE (with --queue-bypass, so they
//     flow when nobody listens) and Apply returns a DelayerConfig: the caller
//     runs RunDelayer in a process inside the host's namespace, which holds each
//     packet for MS±JITTER. Heal removes the qdisc or the rules; the caller then
//     stops its delayer.
//
// Faults of different kinds combine, except a netem delay with a rate (both
// want the root qdisc; Apply says so). Applying a kind again replaces it.
//
// The package starts no process: the caller (the lab's supervisor) owns the
// delayer, as it owns every other component.
//
//	t := linkfault.TargetOf(plan, host)
//	f, err := linkfault.Parse("delay 100 20")   // errors wrap ErrInvalid
//	a, err := linkfault.Apply(ctx, t, f)
//	if a.Delayer != nil {
//		// start `lab component delayer` in t.HostNetns with *a.Delayer as its config
//	}
//	...
//	err = linkfault.Heal(ctx, t, linkfault.Delay) // then stop the delayer
package linkfault
