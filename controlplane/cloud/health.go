package cloud

import (
	"context"
	"sync"
	"time"
)

// fall is how many failed checks in a row take a node out of a balancer:
// one may be a hiccup of a busy host.
const fall = 2

// checker runs health checks and remembers which have failed.
type checker struct {
	// get asks url and says whether it answered 200.
	get     func(ctx context.Context, url string) error
	timeout time.Duration

	mu       sync.Mutex
	failures map[Check]int
	made     map[Check]bool // checks made at least once
}

func newChecker(get func(context.Context, string) error, timeout time.Duration) *checker {
	return &checker{get: get, timeout: timeout, failures: map[Check]int{}, made: map[Check]bool{}}
}

// run makes every check once, at the same time, and forgets the checks
// that are no longer asked for. The first result of a check counts in
// full: a node that fails its first check is out at once (a restarted
// manager does not route a Local Service to nodes without its endpoints
// for two rounds), one that passes is in.
func (c *checker) run(ctx context.Context, checks []Check) {
	results := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, ch := range checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, c.timeout)
			defer cancel()
			results[i] = c.get(cctx, ch.URL())
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	next, made := make(map[Check]int, len(checks)), make(map[Check]bool, len(checks))
	for i, ch := range checks {
		made[ch] = true
		switch {
		case results[i] == nil:
		case !c.made[ch]:
			next[ch] = fall
		default:
			next[ch] = c.failures[ch] + 1
		}
	}
	c.failures, c.made = next, made
}

// failed says whether ch has failed fall times in a row; a check not made
// yet has not failed.
func (c *checker) failed(ch Check) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failures[ch] >= fall
}
