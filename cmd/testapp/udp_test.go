package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestUDPAnswer(t *testing.T) {
	cases := map[string]string{
		"hostname":     "pod-u",
		"hostname\n":   "pod-u",
		"hostname\n\n": "hostname\n\n",
		"hostnames":    "hostnames",
		"Hostname":     "Hostname",
		"hello":        "hello",
		"":             "",
	}
	for msg, want := range cases {
		if got := udpAnswer([]byte(msg), "pod-u"); string(got) != want {
			t.Errorf("answer to %q = %q, want %q", msg, got, want)
		}
	}
}

func TestUDPAgainstServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := startServe(t, ctx, serveConfig{})
	defer func() {
		cancel()
		r.wait(t, 5*time.Second)
	}()
	addr := r.ls.udp.LocalAddr().String()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"udp", addr, "over udp"}, "over udp\n"},
		{[]string{"udp", "--count", "2", addr, "hostname"}, "pod-t\npod-t\n"},
		{[]string{"udp", addr, "hostname\n"}, "pod-t\n"},
	}
	for _, c := range cases {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), c.args, &out, &errOut); code != 0 || out.String() != c.want {
			t.Errorf("%q: exit %d, printed %q, stderr %q; want 0 and %q", c.args, code, out.String(), errOut.String(), c.want)
		}
	}
}

// lossy drops the first datagrams it reads and records who sent each one.
type lossy struct {
	net.PacketConn
	drop  int
	mu    sync.Mutex
	froms []string
}

func (l *lossy) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, from, err := l.PacketConn.ReadFrom(b)
		if err != nil {
			return n, from, err
		}
		l.mu.Lock()
		l.froms = append(l.froms, from.String())
		dropped := len(l.froms) <= l.drop
		l.mu.Unlock()
		if !dropped {
			return n, from, err
		}
	}
}

func TestUDPKeepsOneFlowPastALostReply(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &lossy{PacketConn: pc, drop: 1}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { serveUDPEcho(ctx, l, "pod-u", slog.New(slog.DiscardHandler)) })
	defer wg.Wait()
	defer cancel()

	addr := pc.LocalAddr().String()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"udp", "--count", "3", "--timeout", "200ms", addr, "hostname"}, &out, &errOut)
	want := "error: udp " + addr + ": no reply within 200ms\npod-u\npod-u\n"
	if code != 1 || out.String() != want {
		t.Fatalf("exit %d, printed %q; want 1 and %q", code, out.String(), want)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.froms) != 3 || l.froms[0] != l.froms[1] || l.froms[1] != l.froms[2] {
		t.Fatalf("datagrams came from %q, want three from one port", l.froms)
	}
}

func TestUDPTimesOutWhereNothingAnswers(t *testing.T) {
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	addr := silent.LocalAddr().String()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"udp", "--count", "2", "--timeout", "100ms", addr, "hello"}, &out, &errOut)
	line := "error: udp " + addr + ": no reply within 100ms\n"
	if code != 1 || out.String() != line+line || !strings.Contains(errOut.String(), "2 of 2 failed") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 1 and two timeouts", code, out.String(), errOut.String())
	}
}

func TestUDPReportsARefusal(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close() // the kernel answers port unreachable now
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"udp", "--timeout", "5s", addr, "hello"}, &out, &errOut)
	if code != 1 || !strings.HasPrefix(out.String(), "error: udp "+addr+": ") || !strings.Contains(out.String(), "connection refused") {
		t.Fatalf("exit %d, stdout %q; want 1 and the refusal", code, out.String())
	}
}
