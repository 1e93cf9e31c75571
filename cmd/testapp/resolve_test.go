package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

func TestResolveFlags(t *testing.T) {
	cfg, err := parseResolveFlags([]string{"web"})
	want := resolveConfig{Name: "web", Type: "A", Timeout: 2 * time.Second}
	if err != nil || cfg != want {
		t.Errorf("resolve web: %+v, %v; want %+v", cfg, err, want)
	}
	cfg, err = parseResolveFlags([]string{"--type", "srv", "--timeout", "5s", "--server", "10.96.0.10:53", "_http._tcp.web"})
	want = resolveConfig{Name: "_http._tcp.web", Type: "SRV", Server: "10.96.0.10:53", Timeout: 5 * time.Second}
	if err != nil || cfg != want {
		t.Errorf("resolve --type srv: %+v, %v; want %+v", cfg, err, want)
	}
	if cfg, err := parseResolveFlags([]string{"--type", "PTR", "fd00::5"}); err != nil || cfg.Type != "PTR" {
		t.Errorf("resolve --type PTR fd00::5: %+v, %v", cfg, err)
	}
}

func TestResolveFlagsRejectBadValues(t *testing.T) {
	bad := [][]string{
		{},
		{""},
		{"web", "db"},
		{"--type", "MX", "web"},
		{"--type", "", "web"},
		{"--timeout", "soon", "web"},
		{"--timeout", "0s", "web"},
		{"--timeout", "-1s", "web"},
		{"--server", "10.96.0.10", "web"},
		{"--server", ":53", "web"},
		{"--type", "PTR", "web"},
	}
	for _, args := range bad {
		if cfg, err := parseResolveFlags(args); err == nil {
			t.Errorf("resolve %q: no error, %+v", args, cfg)
		}
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"resolve", "--type", "MX", "web"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), `unknown --type "MX"`) {
		t.Errorf("resolve --type MX: exit %d, stderr %q; want 2 and the unknown type", code, errOut.String())
	}
}

// zone is what a test DNS server knows: the records of each name, lower
// case and rooted. A query for a name it lacks is answered NXDOMAIN, one
// for a name under .broken. SERVFAIL.
type zone map[string][]dnsmessage.Resource

// startDNS serves z on a UDP port of 127.0.0.1 until the test ends, and
// returns its address for --server.
func startDNS(t *testing.T, z zone) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 4096)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return // closed at the end of the test
			}
			if reply, err := z.answer(buf[:n]); err == nil {
				pc.WriteTo(reply, from)
			}
		}
	})
	t.Cleanup(func() {
		pc.Close()
		wg.Wait()
	})
	return pc.LocalAddr().String()
}

// answer is z's reply to query: the records of the question's type, and
// any CNAME, as a recursive server answers.
func (z zone) answer(query []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	m := dnsmessage.Message{
		Header: dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true,
			RecursionDesired: h.RecursionDesired, RecursionAvailable: true},
		Questions: []dnsmessage.Question{q},
	}
	name := strings.ToLower(q.Name.String())
	rrs, ok := z[name]
	switch {
	case strings.Contains(name, ".broken."):
		m.RCode = dnsmessage.RCodeServerFailure
	case !ok:
		m.RCode = dnsmessage.RCodeNameError
	}
	for _, rr := range rrs {
		if rr.Header.Type == q.Type || rr.Header.Type == dnsmessage.TypeCNAME {
			m.Answers = append(m.Answers, rr)
		}
	}
	return m.Pack()
}

func rr(name string, typ dnsmessage.Type, body dnsmessage.ResourceBody) dnsmessage.Resource {
	return dnsmessage.Resource{
		Header: dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(name), Type: typ,
			Class: dnsmessage.ClassINET, TTL: 5},
		Body: body,
	}
}

// testZone is a small cluster.local: a Service web with two endpoints, a
// name for it, and a reverse record.
func testZone() zone {
	const web = "web.default.svc.cluster.local."
	srv := func(prio, weight, port uint16, target string) dnsmessage.Resource {
		return rr("_http._tcp."+web, dnsmessage.TypeSRV, &dnsmessage.SRVResource{Priority: prio, Weight: weight, Port: port,
			Target: dnsmessage.MustNewName(target)})
	}
	return zone{
		web: {
			rr(web, dnsmessage.TypeA, &dnsmessage.AResource{A: [4]byte{10, 244, 1, 5}}),
			rr(web, dnsmessage.TypeA, &dnsmessage.AResource{A: [4]byte{10, 244, 0, 7}}),
			rr(web, dnsmessage.TypeAAAA, &dnsmessage.AAAAResource{AAAA: [16]byte{0xfd, 15: 5}}),
		},
		"_http._tcp." + web: {
			srv(10, 50, 8080, "web-1.web.default.svc.cluster.local."),
			srv(0, 50, 8080, "web-0.web.default.svc.cluster.local."),
			srv(0, 50, 8080, "web-1.web.default.svc.cluster.local."),
		},
		"www.default.svc.cluster.local.": {
			rr("www.default.svc.cluster.local.", dnsmessage.TypeCNAME, &dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName(web)}),
			rr(web, dnsmessage.TypeA, &dnsmessage.AResource{A: [4]byte{10, 244, 1, 5}}),
		},
		"5.1.244.10.in-addr.arpa.": {
			rr("5.1.244.10.in-addr.arpa.", dnsmessage.TypePTR, &dnsmessage.PTRResource{PTR: dnsmessage.MustNewName("web-1.web.default.svc.cluster.local.")}),
		},
	}
}

func TestResolveAgainstATestServer(t *testing.T) {
	server := startDNS(t, testZone())
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"web.default.svc.cluster.local"}, "10.244.0.7\n10.244.1.5\n"},
		{[]string{"--type", "AAAA", "web.default.svc.cluster.local"}, "fd00::5\n"},
		{[]string{"--type", "SRV", "_http._tcp.web.default.svc.cluster.local"},
			"0 50 8080 web-0.web.default.svc.cluster.local.\n" +
				"0 50 8080 web-1.web.default.svc.cluster.local.\n" +
				"10 50 8080 web-1.web.default.svc.cluster.local.\n"},
		{[]string{"--type", "CNAME", "www.default.svc.cluster.local"}, "web.default.svc.cluster.local.\n"},
		{[]string{"www.default.svc.cluster.local"}, "10.244.1.5\n"},
		{[]string{"--type", "PTR", "10.244.1.5"}, "web-1.web.default.svc.cluster.local.\n"},
	}
	for _, c := range cases {
		args := append([]string{"resolve", "--server", server}, c.args...)
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != 0 || out.String() != c.want {
			t.Errorf("%q: exit %d, printed %q, stderr %q; want 0 and %q", args, code, out.String(), errOut.String(), c.want)
		}
	}
}

func TestResolveReportsNXDOMAIN(t *testing.T) {
	server := startDNS(t, testZone())
	for _, typ := range []string{"A", "SRV"} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), []string{"resolve", "--server", server, "--type", typ, "db.default.svc.cluster.local"}, &out, &errOut)
		if want := "error: NXDOMAIN db.default.svc.cluster.local\n"; code != 1 || out.String() != want {
			t.Errorf("--type %s: exit %d, printed %q; want 1 and %q", typ, code, out.String(), want)
		}
	}
}

func TestResolveReportsOtherFailures(t *testing.T) {
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	cases := map[string][]string{
		"SERVFAIL": {"--server", startDNS(t, testZone()), "web.broken.svc.cluster.local"},
		"no reply": {"--server", silent.LocalAddr().String(), "--timeout", "200ms", "web.default.svc.cluster.local"},
	}
	for what, args := range cases {
		var out, errOut bytes.Buffer
		code := run(context.Background(), append([]string{"resolve"}, args...), &out, &errOut)
		// The reason names the server asked, not resolv.conf's nameserver.
		if code != 1 || !strings.HasPrefix(out.String(), "error: ") || strings.Contains(out.String(), "NXDOMAIN") || !strings.Contains(out.String(), args[1]) {
			t.Errorf("%s: exit %d, printed %q; want 1 and an error naming %s", what, code, out.String(), args[1])
		}
	}
}
