package linkfault

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	"github.com/kinns/kinns/cni/netns"
)

// The rules live in the host's own namespace, in the mangle table: PREROUTING
// sees every packet that comes in over the link (for the host or, on a node,
// forwarded to a pod), POSTROUTING every packet that leaves over it (the host's
// own or forwarded), one hook per direction. The lab's proxy writes only the
// filter and nat tables, so nothing of ours meets its rules, and the mangle
// hooks run before filter's ACCEPTs and REJECTs could let a packet skip us.
const table = "mangle"

// IPTables reads and writes one namespace's rules. ExecIPTables is the real one.
type IPTables interface {
	// Save returns `iptables-save -t table` output.
	Save(ctx context.Context, netns, table string) ([]byte, error)
	// Restore applies text with `iptables-restore --noflush`: all or nothing.
	Restore(ctx context.Context, netns string, text []byte) error
}

// chains are the two chains of one fault kind, and the hooks that jump to them.
type chains struct {
	In, Out string // KINNS-LINKFAULT-LOSS-IN, …-OUT
}

func chainsOf(k Kind) chains {
	base := "KINNS-LINKFAULT-" + strings.ToUpper(string(k))
	return chains{In: base + "-IN", Out: base + "-OUT"}
}

// hooks pairs each chain with the built-in chain and interface match of its jump.
func (c chains) hooks(link string) [][3]string {
	return [][3]string{{"PREROUTING", "-i " + link, c.In}, {"POSTROUTING", "-o " + link, c.Out}}
}

// lossRule drops a random share of packets; the probability has the
// precision iptables keeps (1/2^31).
func lossRule(percent float64) string {
	return "-m statistic --mode random --probability " + strconv.FormatFloat(percent/100, 'f', 6, 64) + " -j DROP"
}

// queueRule hands packets to the delayer on queue q. --queue-bypass lets them
// through when no delayer listens, so a delayer that dies never cuts the link.
func queueRule(q uint16) string {
	return fmt.Sprintf("-j NFQUEUE --queue-num %d --queue-bypass", q)
}

// renderApply writes the restore input that puts rule in both chains of c and
// jumps to them from the hooks, replacing whatever of c was there before.
func renderApply(saved []byte, c chains, link, rule string) []byte {
	return renderRules(saved, c, link, []string{rule}, []string{rule})
}

// renderRules is renderApply with rules of their own for each chain: in for
// packets that come in over the link, out for those that leave over it.
func renderRules(saved []byte, c chains, link string, in, out []string) []byte {
	var b bytes.Buffer
	b.WriteString("*" + table + "\n")
	s := parseSaved(saved)
	for _, ch := range []string{c.In, c.Out} {
		fmt.Fprintf(&b, ":%s - [0:0]\n", ch) // declared means flushed
	}
	writeJumpDeletes(&b, s, c)
	for i, h := range c.hooks(link) {
		for _, rule := range [][]string{in, out}[i] {
			fmt.Fprintf(&b, "-A %s %s\n", h[2], rule)
		}
		fmt.Fprintf(&b, "-I %s 1 %s -j %s\n", h[0], h[1], h[2])
	}
	b.WriteString("COMMIT\n")
	return b.Bytes()
}

// renderHeal writes the restore input that removes the jumps to c and c's
// chains, and nothing else. It is nil when none of them exist.
func renderHeal(saved []byte, c chains) []byte {
	s := parseSaved(saved)
	var b bytes.Buffer
	writeJumpDeletes(&b, s, c)
	for _, ch := range []string{c.In, c.Out} {
		if s.chains[ch] {
			fmt.Fprintf(&b, ":%s - [0:0]\n-X %s\n", ch, ch)
		}
	}
	if b.Len() == 0 {
		return nil
	}
	return append([]byte("*"+table+"\n"), append(b.Bytes(), "COMMIT\n"...)...)
}

func writeJumpDeletes(b *bytes.Buffer, s saved, c chains) {
	for _, r := range s.rules {
		if r.target == c.In || r.target == c.Out {
			fmt.Fprintf(b, "-D %s\n", r.spec)
		}
	}
}

// saved is what matters to us of an iptables-save dump: which chains exist,
// and every rule with its jump target.
type saved struct {
	chains map[string]bool
	rules  []savedRule
}

type savedRule struct {
	spec   string // "PREROUTING -i eth0 -j KINNS-LINKFAULT-LOSS-IN"
	target string
}

func parseSaved(text []byte) saved {
	s := saved{chains: map[string]bool{}}
	for line := range strings.Lines(string(text)) {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, ":"):
			name, _, _ := strings.Cut(line[1:], " ")
			s.chains[name] = true
		case strings.HasPrefix(line, "-A "):
			s.rules = append(s.rules, savedRule{spec: line[3:], target: jumpTarget(line)})
		}
	}
	return s
}

func jumpTarget(rule string) string {
	f := strings.Fields(rule)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "-j" || f[i] == "-g" {
			return f[i+1]
		}
	}
	return ""
}

// ExecIPTables runs the machine's iptables-save and iptables-restore inside
// the namespace.
type ExecIPTables struct{}

func (ExecIPTables) Save(ctx context.Context, ns, table string) ([]byte, error) {
	return run(ctx, ns, nil, "iptables-save", "-t", table)
}

// Restore waits for the xtables lock rather than fail on it.
func (ExecIPTables) Restore(ctx context.Context, ns string, text []byte) error {
	_, err := run(ctx, ns, text, "iptables-restore", "--noflush", "--wait")
	return err
}

func run(ctx context.Context, ns string, stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := netns.Start(netns.Path(ns), cmd)
	if err == nil {
		err = cmd.Wait()
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s in %s: %w: %s", name, strings.Join(args, " "), ns, err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}
