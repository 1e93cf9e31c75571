package ipam

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var node1 = netip.MustParsePrefix("10.244.1.0/24")

func open(t *testing.T, dir string, r netip.Prefix) *Store {
	t.Helper()
	s, err := Open(Config{Dir: dir, Range: r})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func alloc(t *testing.T, s *Store, id string) (netip.Addr, bool) {
	t.Helper()
	ip, fresh, err := s.Allocate(context.Background(), id, "test/"+id)
	if err != nil {
		t.Fatal(err)
	}
	return ip, fresh
}

func TestAllocateSkipsNetworkAndGateway(t *testing.T) {
	s := open(t, t.TempDir(), node1)
	for i, want := range []string{"10.244.1.2", "10.244.1.3", "10.244.1.4"} {
		ip, fresh := alloc(t, s, fmt.Sprint("pod-", i))
		if ip.String() != want || !fresh {
			t.Errorf("allocation %d = %s fresh=%t, want %s fresh", i, ip, fresh, want)
		}
	}
}

func TestAllocateIsIdempotentPerID(t *testing.T) {
	s := open(t, t.TempDir(), node1)
	a, _ := alloc(t, s, "uid-a")
	alloc(t, s, "uid-b")
	again, fresh := alloc(t, s, "uid-a")
	if again != a || fresh {
		t.Errorf("second Allocate for uid-a = %s fresh=%t, want %s not fresh", again, fresh, a)
	}
}

func TestReleaseRotatesInsteadOfReusing(t *testing.T) {
	s := open(t, t.TempDir(), node1)
	ctx := context.Background()
	a, _ := alloc(t, s, "a")
	if err := s.Release(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, "a"); err != nil {
		t.Fatalf("releasing twice: %v", err)
	}
	if _, ok, _ := s.Get(ctx, "a"); ok {
		t.Error("released id still holds an address")
	}
	b, _ := alloc(t, s, "b")
	if b == a {
		t.Errorf("freed %s was handed out again at once", a)
	}
}

func TestExhaustionAndWrapAround(t *testing.T) {
	// A /28 has 16 addresses: .0, .1 (gateway) and .15 are never handed out.
	r := netip.MustParsePrefix("10.244.9.0/28")
	s := open(t, t.TempDir(), r)
	ctx := context.Background()
	seen := map[netip.Addr]bool{}
	for i := range 13 {
		ip, _ := alloc(t, s, fmt.Sprint("p", i))
		if seen[ip] || ip == r.Addr() || ip.String() == "10.244.9.1" || ip.String() == "10.244.9.15" {
			t.Fatalf("bad address %s", ip)
		}
		seen[ip] = true
	}
	_, _, err := s.Allocate(ctx, "one-too-many", "")
	if !errors.Is(err, ErrExhausted) || !strings.Contains(err.Error(), r.String()) {
		t.Fatalf("full range: got %v, want ErrExhausted naming %s", err, r)
	}
	if err := s.Release(ctx, "p4"); err != nil { // held 10.244.9.6
		t.Fatal(err)
	}
	ip, _ := alloc(t, s, "late")
	if ip.String() != "10.244.9.6" {
		t.Errorf("after wrapping got %s, want the one free address 10.244.9.6", ip)
	}
}

func TestCustomGatewayIsNeverHandedOut(t *testing.T) {
	r := netip.MustParsePrefix("10.244.9.0/29")
	s, err := Open(Config{Dir: t.TempDir(), Range: r, Gateway: netip.MustParseAddr("10.244.9.3")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := range 5 {
		ip, _ := alloc(t, s, fmt.Sprint("p", i))
		got = append(got, ip.String())
	}
	want := "10.244.9.1 10.244.9.2 10.244.9.4 10.244.9.5 10.244.9.6"
	if strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}
}

func TestStateSurvivesANewStore(t *testing.T) {
	dir := t.TempDir()
	first := open(t, dir, node1)
	a, _ := alloc(t, first, "a")
	b, _ := alloc(t, first, "b")
	if err := first.Release(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
	restarted := open(t, dir, node1)
	if got, fresh := alloc(t, restarted, "a"); got != a || fresh {
		t.Errorf("after restart a = %s fresh=%t, want %s", got, fresh, a)
	}
	if c, _ := alloc(t, restarted, "c"); c == b || c == a {
		t.Errorf("after restart c = %s, must not reuse %s or %s", c, a, b)
	}
	list, err := restarted.List(context.Background())
	if err != nil || len(list) != 2 || list[0].ID != "a" || list[0].Owner != "test/a" {
		t.Errorf("List = %+v, %v", list, err)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := []Config{
		{Range: node1},
		{Dir: dir, Range: netip.MustParsePrefix("fd00::/120")},
		{Dir: dir, Range: netip.MustParsePrefix("10.0.0.0/8")},
		{Dir: dir, Range: netip.MustParsePrefix("10.244.1.0/31")},
		{Dir: dir, Range: node1, Gateway: netip.MustParseAddr("10.244.2.1")},
		{Dir: dir, Range: node1, Gateway: netip.MustParseAddr("10.244.1.255")},
	}
	for _, c := range bad {
		if _, err := Open(c); err == nil {
			t.Errorf("Open(%+v) accepted", c)
		}
	}
	s, err := Open(Config{Dir: dir, Range: netip.MustParsePrefix("10.244.1.77/24")})
	if err != nil || s.Range() != node1 || s.Gateway().String() != "10.244.1.1" {
		t.Errorf("unmasked range: %v %v %v", s.Range(), s.Gateway(), err)
	}
}

func TestRangeMismatchAndCorruptState(t *testing.T) {
	dir := t.TempDir()
	alloc(t, open(t, dir, node1), "a")
	other := open(t, dir, netip.MustParsePrefix("10.244.2.0/24"))
	if _, _, err := other.Allocate(context.Background(), "b", ""); !errors.Is(err, ErrRangeMismatch) {
		t.Errorf("other range: got %v, want ErrRangeMismatch", err)
	}
	if err := os.WriteFile(filepath.Join(dir, stateFile), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := open(t, dir, node1).Allocate(context.Background(), "c", "")
	if err == nil || !strings.Contains(err.Error(), stateFile) {
		t.Errorf("corrupt state: got %v, want an error naming %s", err, stateFile)
	}
}

func TestWaitForLockEndsWithContext(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, node1)
	unlock, err := lock(context.Background(), filepath.Join(dir, lockFile))
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, err := s.Allocate(ctx, "a", ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want DeadlineExceeded while another holder has the lock", err)
	}
}

func TestConcurrentStoresNeverShareAnAddress(t *testing.T) {
	dir := t.TempDir()
	const workers, each = 8, 25
	var mu sync.Mutex
	owner := map[netip.Addr]string{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			s := open(t, dir, node1) // a Store per worker, as separate processes would have
			for i := range each {
				id := fmt.Sprintf("w%d-%d", w, i)
				ip, _, err := s.Allocate(context.Background(), id, "")
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if prev, dup := owner[ip]; dup {
					t.Errorf("%s handed to both %s and %s", ip, prev, id)
				}
				owner[ip] = id
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(owner) != workers*each {
		t.Errorf("%d distinct addresses, want %d", len(owner), workers*each)
	}
}

// TestConcurrentProcessesNeverShareAnAddress runs this test binary as several
// allocating processes at once (see TestHelperAllocate).
func TestConcurrentProcessesNeverShareAnAddress(t *testing.T) {
	dir := t.TempDir()
	const procs, each = 3, 40
	outs := make([][]byte, procs)
	var wg sync.WaitGroup
	for p := range procs {
		wg.Go(func() {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAllocate$")
			cmd.Env = append(os.Environ(), "IPAM_HELPER_DIR="+dir, "IPAM_HELPER_PREFIX=p"+strconv.Itoa(p), "IPAM_HELPER_COUNT="+strconv.Itoa(each))
			out, err := cmd.Output()
			if err != nil {
				t.Errorf("helper %d: %v", p, err)
			}
			outs[p] = out
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, out := range outs {
		for _, line := range strings.Fields(string(out)) {
			if !strings.HasPrefix(line, "ip=") {
				continue
			}
			if seen[line] {
				t.Errorf("%s handed out twice", line)
			}
			seen[line] = true
		}
	}
	if len(seen) != procs*each {
		t.Errorf("%d distinct addresses, want %d", len(seen), procs*each)
	}
}

// TestHelperAllocate is not a test: it is the body of one helper process.
func TestHelperAllocate(t *testing.T) {
	dir := os.Getenv("IPAM_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process only")
	}
	n, _ := strconv.Atoi(os.Getenv("IPAM_HELPER_COUNT"))
	s := open(t, dir, node1)
	for i := range n {
		ip, _ := alloc(t, s, fmt.Sprintf("%s-%d", os.Getenv("IPAM_HELPER_PREFIX"), i))
		fmt.Printf("ip=%s\n", ip)
	}
}
