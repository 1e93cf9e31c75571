package specs

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"

	. "github.com/onsi/gomega"

	"github.com/kinns/kinns/cni/netns"
	"github.com/kinns/kinns/harness"
	"github.com/kinns/kinns/harness/containerd"
	"github.com/kinns/kinns/harness/state"
	"github.com/kinns/kinns/harness/topology"
)

// rootNetworkSnapshot is what the host's own network looks like: addresses, links,
// routes and firewall rules. A lab must never change it.
func rootNetworkSnapshot() string {
	var b strings.Builder
	for _, argv := range [][]string{
		{"ip", "addr"}, {"ip", "-6", "route"}, {"ip", "route"}, {"ip", "rule"},
		{"iptables-save"}, {"ip6tables-save"},
	} {
		out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "%v: %s", argv, out)
		b.WriteString("$ " + strings.Join(argv, " ") + "\n" + normalise(string(out)))
	}
	return b.String()
}

var (
	// Address lifetimes count down by themselves; iptables-save stamps the time.
	lifetimes = regexp.MustCompile(`valid_lft \S+ preferred_lft \S+`)
	comments  = regexp.MustCompile(`(?m)^#.*\n`)
)

func normalise(s string) string {
	return comments.ReplaceAllString(lifetimes.ReplaceAllString(s, "valid_lft _ preferred_lft _"), "")
}

// expectNothingLeft checks that no trace of lab name remains on the machine.
func expectNothingLeft(ctx context.Context, name string, nodes int) {
	plan, err := topology.New(name, nodes)
	Expect(err).NotTo(HaveOccurred())
	all, err := netns.List()
	Expect(err).NotTo(HaveOccurred())
	for _, ns := range all {
		Expect(ns).NotTo(HavePrefix(name+"-"), "network namespace left behind")
	}
	_, err = os.Stat(state.Dir(harness.StateRoot(), name))
	Expect(os.IsNotExist(err)).To(BeTrue(), "state folder left behind")
	d := containerd.NewDaemon(harness.StateRoot(), nil)
	c, err := containerd.Connect(d.Address())
	Expect(err).NotTo(HaveOccurred())
	defer c.Close()
	nss, err := c.NamespaceService().List(ctx)
	Expect(err).NotTo(HaveOccurred())
	for _, n := range plan.Nodes() {
		Expect(nss).NotTo(ContainElement(topology.ContainerdNamespace(name, n.Name)), "containerd namespace left behind")
	}
}
