package pki

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"
)

const (
	// DefaultValidity is how long leaf certificates last unless Config says otherwise.
	DefaultValidity = 365 * 24 * time.Hour
	// DefaultCAValidity is how long the lab CA lasts: longer than any leaf, so a leaf
	// never outlives the certificate that vouches for it.
	DefaultCAValidity = 10 * DefaultValidity
)

// DefaultAPIServerIPs and DefaultAPIServerDNSNames are the names every client may
// use for the API server (DESIGN §2): the host forwarder (127.0.0.1), the HA VIP,
// cp-1..cp-3, and the `kubernetes` Service in `default` (its ClusterIP and DNS names),
// which pods use.
var (
	DefaultAPIServerIPs = []netip.Addr{
		netip.MustParseAddr("127.0.0.1"),
		netip.MustParseAddr("10.89.0.10"),
		netip.MustParseAddr("10.89.0.11"),
		netip.MustParseAddr("10.89.0.12"),
		netip.MustParseAddr("10.89.0.13"),
		netip.MustParseAddr("10.96.0.1"),
	}
	DefaultAPIServerDNSNames = []string{
		"localhost",
		"kubernetes",
		"kubernetes.default",
		"kubernetes.default.svc",
		"kubernetes.default.svc.cluster.local",
	}
)

// Node is a machine that runs a kubelet. It gets a client certificate to talk to
// the API server as system:node:<Name>, and a serving certificate the API server
// verifies when it calls the kubelet (logs, exec, port-forward).
type Node struct {
	Name string     // the Node object's name, e.g. "node-1"
	IP   netip.Addr // its fabric address, e.g. 10.89.0.21
}

// Config says what Generate makes and where.
type Config struct {
	Lab   string // lab name; the CA is "kinns-<Lab>-ca"
	Dir   string // the lab's pki folder; created 0700 if missing
	Nodes []Node // one client and one kubelet serving certificate each
	// EtcdMembers get a serving and a peer certificate each from the etcd CA,
	// which Generate always makes, with etcd's client certificates.
	EtcdMembers []EtcdMember

	// ExtraIPs and ExtraDNSNames are added to the API server's SANs, on top of
	// DefaultAPIServerIPs and DefaultAPIServerDNSNames.
	ExtraIPs      []netip.Addr
	ExtraDNSNames []string

	Validity   time.Duration    // leaf lifetime; DefaultValidity if zero
	CAValidity time.Duration    // CA lifetime; DefaultCAValidity if zero
	Now        func() time.Time // time.Now if nil; tests inject a clock
	Logger     *slog.Logger     // reports regenerated files; discarded if nil
}

var (
	labNameRE  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	nodeNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$`)
)

// withDefaults validates c and fills in its zero fields.
func (c Config) withDefaults() (Config, error) {
	if c.Validity == 0 {
		c.Validity = DefaultValidity
	}
	if c.CAValidity == 0 {
		c.CAValidity = DefaultCAValidity
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c, c.validate()
}

func (c Config) validate() error {
	if len(c.Lab) > 63 || !labNameRE.MatchString(c.Lab) {
		return fmt.Errorf("invalid pki config: lab name %q must be 1 to 63 lower-case letters, digits or '-'", c.Lab)
	}
	if c.Dir == "" {
		return fmt.Errorf("invalid pki config for lab %q: no directory", c.Lab)
	}
	if c.Validity < 0 || c.CAValidity < 0 {
		return fmt.Errorf("invalid pki config for lab %q: negative validity", c.Lab)
	}
	for _, ip := range c.ExtraIPs {
		if !ip.IsValid() {
			return fmt.Errorf("invalid pki config for lab %q: invalid extra IP SAN", c.Lab)
		}
	}
	if err := validateEtcdMembers(c.EtcdMembers); err != nil {
		return err
	}
	return validateNodes(c.Nodes)
}

func validateNodes(nodes []Node) error {
	seen := map[string]bool{}
	for _, n := range nodes {
		if err := validateNodeName(n.Name); err != nil {
			return err
		}
		if seen[n.Name] {
			return fmt.Errorf("invalid pki config: node %q listed twice", n.Name)
		}
		seen[n.Name] = true
		if !n.IP.IsValid() {
			return fmt.Errorf("invalid pki config: node %q has no IP", n.Name)
		}
	}
	return nil
}

// validateNodeName keeps node names usable as file stems that cannot collide with
// the fixed files (a node called "admin" would overwrite the admin's certificate).
func validateNodeName(name string) error {
	if len(name) > 253 || !nodeNameRE.MatchString(name) {
		return fmt.Errorf("invalid pki config: node name %q is not a DNS subdomain", name)
	}
	if slices.Contains(reservedStems, name) || strings.HasPrefix(name, kubeletPrefix) {
		return fmt.Errorf("invalid pki config: node name %q is reserved (it names another pki file)", name)
	}
	return nil
}
