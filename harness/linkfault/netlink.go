package linkfault

import (
	"errors"
	"fmt"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/kinns/kinns/cni/netns"
)

// Our root qdiscs carry these handles, so heal removes only what we added.
var (
	rateHandle  = netlink.MakeHandle(0x6b6e, 0) // tbf
	delayHandle = netlink.MakeHandle(0x6b6f, 0) // netem
)

// Qdisc is a root qdisc as the faults see it.
type Qdisc struct {
	Kind   string // "tbf", "netem", "noqueue", …
	Handle uint32
	TBF    tbf                                     // Kind "tbf"
	Delay  struct{ Latency, Jitter time.Duration } // Kind "netem"
}

// ErrNotSupported is what Netlink.ReplaceRoot returns for a qdisc the kernel
// does not have (netem, on kernels built without it).
var ErrNotSupported = errors.New("qdisc not supported by the kernel")

// Netlink is what the faults do to links. NetlinkOps is the real one.
type Netlink interface {
	SetLinkUp(netns, link string, up bool) error
	// Root returns the link's root qdisc.
	Root(netns, link string) (Qdisc, error)
	ReplaceRoot(netns, link string, q Qdisc) error
	// DeleteRoot puts the kernel's default root qdisc back.
	DeleteRoot(netns, link string, handle uint32) error
}

// NetlinkOps works through netlink handles opened in each namespace.
type NetlinkOps struct{}

func (NetlinkOps) SetLinkUp(ns, link string, up bool) error {
	return withLink(ns, link, func(h *netlink.Handle, l netlink.Link) error {
		if up {
			return h.LinkSetUp(l)
		}
		return h.LinkSetDown(l)
	})
}

func (NetlinkOps) Root(ns, link string) (Qdisc, error) {
	var root Qdisc
	err := withLink(ns, link, func(h *netlink.Handle, l netlink.Link) error {
		qs, err := h.QdiscList(l)
		if err != nil {
			return fmt.Errorf("list qdiscs: %w", err)
		}
		for _, q := range qs {
			if q.Attrs().Parent == netlink.HANDLE_ROOT {
				root = Qdisc{Kind: q.Type(), Handle: q.Attrs().Handle}
			}
		}
		return nil
	})
	return root, err
}

func (NetlinkOps) ReplaceRoot(ns, link string, q Qdisc) error {
	return withLink(ns, link, func(h *netlink.Handle, l netlink.Link) error {
		nq, err := toNetlink(l.Attrs().Index, q)
		if err != nil {
			return err
		}
		err = h.QdiscReplace(nq)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EOPNOTSUPP) {
			return fmt.Errorf("%s: %w (%w)", q.Kind, ErrNotSupported, err)
		}
		return err
	})
}

func (NetlinkOps) DeleteRoot(ns, link string, handle uint32) error {
	return withLink(ns, link, func(h *netlink.Handle, l netlink.Link) error {
		attrs := netlink.QdiscAttrs{LinkIndex: l.Attrs().Index, Parent: netlink.HANDLE_ROOT, Handle: handle}
		err := h.QdiscDel(&netlink.GenericQdisc{QdiscAttrs: attrs})
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	})
}

func toNetlink(index int, q Qdisc) (netlink.Qdisc, error) {
	attrs := netlink.QdiscAttrs{LinkIndex: index, Parent: netlink.HANDLE_ROOT, Handle: q.Handle}
	switch q.Kind {
	case "tbf":
		return &netlink.Tbf{QdiscAttrs: attrs, Rate: q.TBF.Rate, Limit: q.TBF.Limit, Buffer: q.TBF.Buffer}, nil
	case "netem":
		return netlink.NewNetem(attrs, netlink.NetemQdiscAttrs{
			Latency: uint32(q.Delay.Latency.Microseconds()),
			Jitter:  uint32(q.Delay.Jitter.Microseconds()),
			Limit:   10_000,
		}), nil
	}
	return nil, fmt.Errorf("no qdisc of kind %q", q.Kind)
}

// withLink runs fn on the named link, through a handle in its namespace.
func withLink(ns, link string, fn func(*netlink.Handle, netlink.Link) error) error {
	h, err := netns.Handle(netns.Path(ns))
	if err != nil {
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(link)
	if err != nil {
		return fmt.Errorf("find %s in %s: %w", link, ns, err)
	}
	if err := fn(h, l); err != nil {
		return fmt.Errorf("%s in %s: %w", link, ns, err)
	}
	return nil
}
