package linkfault

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Kind names a link fault.
type Kind string

const (
	// Down pulls the host's cable: the fabric end of its veth goes down.
	Down Kind = "down"
	// Loss drops a share of the packets crossing the link, each way.
	Loss Kind = "loss"
	// Rate limits the link's throughput, each way.
	Rate Kind = "rate"
	// Delay holds every packet crossing the link, each way, for a while.
	Delay Kind = "delay"
)

// Kinds lists every fault kind, in the order HealAll undoes them.
var Kinds = []Kind{Delay, Rate, Loss, Down}

// Limits of what a fault may ask for.
const (
	MinRate  = 8_000           // bits per second (8kbit)
	MaxRate  = 100_000_000_000 // bits per second (100gbit)
	MaxDelay = 10 * time.Second
)

// Usage says what ParseCommand accepts.
const Usage = "down | up | loss PERCENT | rate RATE (e.g. 1mbit) | delay MS [JITTER_MS] | heal [down|loss|rate|delay]"

// ErrInvalid is wrapped by every error about a fault as a user wrote it.
var ErrInvalid = errors.New("invalid link fault")

// Fault is one way to break a link. Only the fields of its Kind are used.
type Fault struct {
	Kind Kind `json:"kind"`
	// Loss is the percentage of packets dropped in each direction (0-100).
	Loss float64 `json:"loss,omitempty"`
	// Rate is the limit in bits per second, in each direction.
	Rate uint64 `json:"rate,omitempty"`
	// Delay is added to every packet in each direction, so a round trip
	// through the link grows by twice Delay.
	Delay time.Duration `json:"delay,omitempty"`
	// Jitter spreads Delay uniformly over [Delay-Jitter, Delay+Jitter].
	Jitter time.Duration `json:"jitter,omitempty"`
}

// Command is one line of a fault table: a fault to apply, or the kind of a
// fault to heal. Heal with an empty Fault.Kind heals every kind.
type Command struct {
	Heal  bool
	Fault Fault
}

// ParseCommand reads a fault as a user writes it: "down", "up" (heals down),
// "loss 30", "rate 1mbit", "delay 100 20", "heal loss", "heal" (everything).
func ParseCommand(s string) (Command, error) {
	words := strings.Fields(s)
	if len(words) == 0 {
		return Command{}, invalid("empty fault: use %s", Usage)
	}
	switch words[0] {
	case "up":
		if len(words) > 1 {
			return Command{}, invalid("up takes no argument")
		}
		return Command{Heal: true, Fault: Fault{Kind: Down}}, nil
	case "heal":
		return parseHeal(words[1:])
	}
	f, err := ParseWords(words)
	return Command{Fault: f}, err
}

func parseHeal(args []string) (Command, error) {
	switch {
	case len(args) == 0:
		return Command{Heal: true}, nil
	case len(args) > 1 || !isKind(Kind(args[0])):
		return Command{}, invalid("heal takes one of down, loss, rate, delay or nothing (all), not %q", strings.Join(args, " "))
	}
	return Command{Heal: true, Fault: Fault{Kind: Kind(args[0])}}, nil
}

// Parse reads one fault: "down", "loss 30", "rate 1mbit", "delay 100 20".
func Parse(s string) (Fault, error) { return ParseWords(strings.Fields(s)) }

// ParseWords is Parse of a fault already split into words.
func ParseWords(words []string) (Fault, error) {
	if len(words) == 0 {
		return Fault{}, invalid("empty fault: use %s", Usage)
	}
	kind, args := Kind(words[0]), words[1:]
	var f Fault
	var err error
	switch kind {
	case Down:
		f, err = parseDown(args)
	case Loss:
		f, err = parseLoss(args)
	case Rate:
		f, err = parseRateFault(args)
	case Delay:
		f, err = parseDelay(args)
	default:
		return Fault{}, invalid("unknown link fault %q: use %s", words[0], Usage)
	}
	if err != nil {
		return Fault{}, err
	}
	return f, f.Validate()
}

func parseDown(args []string) (Fault, error) {
	if len(args) != 0 {
		return Fault{}, invalid("down takes no argument")
	}
	return Fault{Kind: Down}, nil
}

func parseLoss(args []string) (Fault, error) {
	if len(args) != 1 {
		return Fault{}, invalid("loss takes one argument, a percentage: loss 30")
	}
	p, err := strconv.ParseFloat(strings.TrimSuffix(args[0], "%"), 64)
	if err != nil || math.IsNaN(p) || math.IsInf(p, 0) {
		return Fault{}, invalid("loss must be a percentage such as 30 or 2.5, not %q", args[0])
	}
	return Fault{Kind: Loss, Loss: p}, nil
}

func parseRateFault(args []string) (Fault, error) {
	if len(args) != 1 {
		return Fault{}, invalid("rate takes one argument with a unit: rate 1mbit")
	}
	r, err := ParseRate(args[0])
	if err != nil {
		return Fault{}, err
	}
	return Fault{Kind: Rate, Rate: r}, nil
}

func parseDelay(args []string) (Fault, error) {
	if len(args) < 1 || len(args) > 2 {
		return Fault{}, invalid("delay takes a delay and an optional jitter, in milliseconds: delay 100 20")
	}
	f := Fault{Kind: Delay}
	var err error
	if f.Delay, err = parseMillis("delay", args[0]); err != nil {
		return Fault{}, err
	}
	if len(args) == 2 {
		if f.Jitter, err = parseMillis("jitter", args[1]); err != nil {
			return Fault{}, err
		}
	}
	return f, nil
}

// parseMillis reads "100" as milliseconds, or a Go duration such as "1.5s".
func parseMillis(what, s string) (time.Duration, error) {
	if ms, err := strconv.ParseUint(s, 10, 32); err == nil {
		return time.Duration(ms) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, invalid("%s must be whole milliseconds such as 100, or a duration such as 1.5s, not %q", what, s)
	}
	return d, nil
}

// Validate says what is wrong with a fault, and what is accepted.
func (f Fault) Validate() error {
	switch f.Kind {
	case Down:
		return nil
	case Loss:
		if !(f.Loss >= 0 && f.Loss <= 100) {
			return invalid("loss must be between 0 and 100 percent, not %g", f.Loss)
		}
		return nil
	case Rate:
		if f.Rate < MinRate || f.Rate > MaxRate {
			return invalid("rate must be between %s and %s, not %s", FormatRate(MinRate), FormatRate(MaxRate), FormatRate(f.Rate))
		}
		return nil
	case Delay:
		return validateDelay(f.Delay, f.Jitter)
	}
	return invalid("unknown link fault %q: use %s", f.Kind, Usage)
}

func validateDelay(delay, jitter time.Duration) error {
	if delay < time.Millisecond || delay > MaxDelay {
		return invalid("delay must be between 1 and %d ms, not %s", MaxDelay.Milliseconds(), delay)
	}
	if jitter < 0 || jitter > delay {
		return invalid("jitter must be between 0 and the delay (%s), not %s", delay, jitter)
	}
	return nil
}

// String is the fault as Parse reads it.
func (f Fault) String() string {
	switch f.Kind {
	case Loss:
		return fmt.Sprintf("loss %s", strconv.FormatFloat(f.Loss, 'f', -1, 64))
	case Rate:
		return "rate " + FormatRate(f.Rate)
	case Delay:
		if f.Jitter == 0 {
			return "delay " + formatMillis(f.Delay)
		}
		return "delay " + formatMillis(f.Delay) + " " + formatMillis(f.Jitter)
	}
	return string(f.Kind)
}

func formatMillis(d time.Duration) string {
	if d%time.Millisecond == 0 {
		return strconv.FormatInt(d.Milliseconds(), 10)
	}
	return d.String()
}

func isKind(k Kind) bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}
