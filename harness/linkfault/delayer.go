package linkfault

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/kinns/kinns/harness/linkfault/internal/nfqueue"
)

// DelayerConfig is what `lab component delayer` reads (as JSON) to hold a
// link's packets. The harness gets it from Applied.Delayer.
type DelayerConfig struct {
	Queue  uint16        `json:"queue"`
	Delay  time.Duration `json:"delay"`            // nanoseconds in JSON
	Jitter time.Duration `json:"jitter,omitempty"` // nanoseconds in JSON
	// MaxPackets is how many packets the kernel holds for us at most; more
	// are dropped, as a full router queue would. 0 means 10,000.
	MaxPackets uint32       `json:"maxPackets,omitempty"`
	Log        *slog.Logger `json:"-"`
}

// Validate checks the config as Fault.Validate checks a delay.
func (c DelayerConfig) Validate() error {
	if err := validateDelay(c.Delay, c.Jitter); err != nil {
		return fmt.Errorf("delayer: %w", err)
	}
	return nil
}

// RunDelayer holds every packet queued to cfg.Queue in the calling thread's
// network namespace (so: run it inside the host's) for Delay±Jitter, then lets
// it go. It calls ready once the queue is bound and returns nil when ctx ends,
// after letting every held packet go and unbinding the queue.
func RunDelayer(ctx context.Context, cfg DelayerConfig, ready func()) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	c, err := nfqueue.Open(cfg.Queue)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Bind(cmp(cfg.MaxPackets, 10_000)); err != nil {
		return err
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log.Info("delaying packets", "queue", cfg.Queue, "delay", cfg.Delay, "jitter", cfg.Jitter)
	if ready != nil {
		ready()
	}
	d := &delayer{cfg: cfg, conn: c, log: log, now: time.Now, rand: rand.Float64}
	runErr := d.run(ctx)
	return errors.Join(runErr, c.Unbind())
}

// queueConn is what the delayer needs of its queue.
type queueConn interface {
	Read() ([]uint32, error)
	Accept(ids []uint32) error
	SetReadDeadline(time.Time) error
}

type delayer struct {
	cfg   DelayerConfig
	conn  queueConn
	log   *slog.Logger
	now   func() time.Time
	rand  func() float64
	sched schedule
}

// arrival is a batch of packets read together.
type arrival struct {
	ids []uint32
	at  time.Time
}

// run reads the queue on one goroutine and gives verdicts on this one, from a
// timer queue: each packet waits its own time, none waits behind another.
func (d *delayer) run(ctx context.Context) error {
	arrivals, readErr := make(chan arrival, 64), make(chan error, 1)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var left arrival
	wg.Go(func() { left = d.read(arrivals, readErr, stop) })
	err := d.loop(ctx, arrivals, readErr)
	close(stop)
	_ = d.conn.SetReadDeadline(time.Now()) // unblock the reader
	wg.Wait()
	d.hold(left)
	return errors.Join(err, d.flush(arrivals))
}

func (d *delayer) loop(ctx context.Context, arrivals <-chan arrival, readErr <-chan error) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-readErr:
			return err
		case a := <-arrivals:
			d.hold(a)
		case <-timer.C:
		}
		if err := d.conn.Accept(d.sched.popDue(d.now())); err != nil {
			return err
		}
		if due, ok := d.sched.next(); ok {
			timer.Reset(due.Sub(d.now()))
		}
	}
}

func (d *delayer) hold(a arrival) {
	for _, id := range a.ids {
		d.sched.add(id, a.at.Add(holdFor(d.cfg.Delay, d.cfg.Jitter, d.rand())))
	}
}

// flush lets every held packet go, and those read but not yet held: the
// kernel drops what a queue still holds when it is unbound.
func (d *delayer) flush(arrivals <-chan arrival) error {
	for {
		select {
		case a := <-arrivals:
			d.hold(a)
		default:
			if n := d.sched.len(); n > 0 {
				d.log.Info("letting held packets go", "packets", n)
			}
			return d.conn.Accept(d.sched.drain())
		}
	}
}

// read hands what it reads to the loop until stop; it returns what it read
// but could not hand over, for flush.
func (d *delayer) read(arrivals chan<- arrival, readErr chan<- error, stop <-chan struct{}) arrival {
	for {
		ids, err := d.conn.Read()
		if err != nil {
			select {
			case <-stop:
			default:
				readErr <- err
			}
			return arrival{}
		}
		a := arrival{ids: ids, at: d.now()}
		select {
		case arrivals <- a:
		case <-stop:
			return a
		}
	}
}

func cmp(v, def uint32) uint32 {
	if v == 0 {
		return def
	}
	return v
}
