package linkfault

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Fault
		str  string
	}{
		{"down", Fault{Kind: Down}, "down"},
		{"loss 30", Fault{Kind: Loss, Loss: 30}, "loss 30"},
		{"loss 2.5%", Fault{Kind: Loss, Loss: 2.5}, "loss 2.5"},
		{"loss 0", Fault{Kind: Loss}, "loss 0"},
		{"rate 1mbit", Fault{Kind: Rate, Rate: 1e6}, "rate 1mbit"},
		{"rate 1.5mbit", Fault{Kind: Rate, Rate: 1.5e6}, "rate 1500kbit"},
		{"rate 2MBps", Fault{Kind: Rate, Rate: 16e6}, "rate 16mbit"},
		{"delay 100", Fault{Kind: Delay, Delay: 100 * time.Millisecond}, "delay 100"},
		{"delay 100 20", Fault{Kind: Delay, Delay: 100 * time.Millisecond, Jitter: 20 * time.Millisecond}, "delay 100 20"},
		{"delay 1.5s 250ms", Fault{Kind: Delay, Delay: 1500 * time.Millisecond, Jitter: 250 * time.Millisecond}, "delay 1500 250"},
	} {
		got, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("Parse(%q) = %+v, want %+v", c.in, got, c.want)
		}
		if got.String() != c.str {
			t.Errorf("Parse(%q).String() = %q, want %q", c.in, got.String(), c.str)
		}
		if again, err := Parse(got.String()); err != nil || again != got {
			t.Errorf("Parse(%q) does not round-trip: %+v, %v", got.String(), again, err)
		}
	}
}

func TestParseErrorsSayWhatIsAccepted(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "empty fault"},
		{"flap", `unknown link fault "flap"`},
		{"down now", "down takes no argument"},
		{"loss", "loss takes one argument"},
		{"loss 130", "loss must be between 0 and 100 percent"},
		{"loss -1", "loss must be between 0 and 100 percent"},
		{"loss many", "loss must be a percentage"},
		{"loss NaN", "loss must be a percentage"},
		{"rate 1000", "rate must be a number and a unit"},
		{"rate 1furlong", `unknown rate unit "furlong"`},
		{"rate 1bit", "rate must be between 8kbit and 100gbit"},
		{"rate 200gbit", "rate must be between 8kbit and 100gbit"},
		{"delay", "delay takes a delay and an optional jitter"},
		{"delay soon", "delay must be whole milliseconds"},
		{"delay 0", "delay must be between 1 and 10000 ms"},
		{"delay 20000", "delay must be between 1 and 10000 ms"},
		{"delay 100 200", "jitter must be between 0 and the delay"},
		{"delay 100 20 5", "delay takes a delay and an optional jitter"},
	} {
		_, err := Parse(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v, want an error saying %q", c.in, err, c.want)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q): %v does not wrap ErrInvalid", c.in, err)
		}
	}
}

func TestParseCommand(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Command
	}{
		{"down", Command{Fault: Fault{Kind: Down}}},
		{"up", Command{Heal: true, Fault: Fault{Kind: Down}}},
		{"loss 10", Command{Fault: Fault{Kind: Loss, Loss: 10}}},
		{"heal rate", Command{Heal: true, Fault: Fault{Kind: Rate}}},
		{"heal", Command{Heal: true}},
	} {
		got, err := ParseCommand(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"up 1", "heal everything", "heal loss rate", "sideways"} {
		if _, err := ParseCommand(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseCommand(%q) = %v, want ErrInvalid", in, err)
		}
	}
}

func TestTBFFor(t *testing.T) {
	for _, c := range []struct {
		bits  uint64
		burst uint32
	}{
		{1e6, minBurst},      // 1mbit: 10 ms is 1250 B, less than the floor
		{1e9, 1_250_000},     // 1gbit: 10 ms
		{MinRate, minBurst},  // the slowest
		{MaxRate, 125000000}, // the fastest
	} {
		q := tbfFor(c.bits)
		if q.Rate != c.bits/8 || q.Burst != c.burst {
			t.Errorf("tbfFor(%d) = %+v, want rate %d burst %d", c.bits, q, c.bits/8, c.burst)
		}
		if q.Limit <= q.Burst {
			t.Errorf("tbfFor(%d): limit %d leaves no queue beyond the burst %d", c.bits, q.Limit, q.Burst)
		}
		// Buffer is the burst's transmit time in 64 ns ticks.
		wantTicks := float64(q.Burst) / float64(q.Rate) * 1e9 / 64
		if d := float64(q.Buffer) - wantTicks; d > 1 || d < -1 {
			t.Errorf("tbfFor(%d): buffer %d ticks, want about %.0f", c.bits, q.Buffer, wantTicks)
		}
	}
}
