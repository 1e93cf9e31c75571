package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Step is one piece of work of a bring-up.
type Step struct {
	// Name is unique in its list.
	Name string
	// After names the steps that must have finished, without error, first.
	After []string
	// Run does the work; it must return soon after ctx ends.
	Run func(ctx context.Context) error
}

// Done is what a finished step reports: when it started and how long it
// took, from the start of Run.
type Done struct {
	Name        string
	Start, Took time.Duration
	Err         error
}

// Run runs steps, each once all the steps it comes after have finished, and
// calls done (if not nil) as each one finishes. The first failure cancels
// the context of the steps still running and no other step starts; Run
// returns once every started step has returned, with that first error
// wrapped with its step's name. A list with a repeated name, an unknown
// step in After or a cycle is refused before anything runs.
func Run(ctx context.Context, list []Step, done func(Done)) error {
	if err := Check(list); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := runner{list: list, finished: map[string]bool{}, started: map[string]bool{},
		results: make(chan Done, len(list)), begin: time.Now()}
	return r.run(ctx, cancel, done)
}

type runner struct {
	list              []Step
	finished, started map[string]bool
	results           chan Done
	begin             time.Time
}

func (r *runner) run(ctx context.Context, cancel context.CancelFunc, done func(Done)) error {
	var first error
	running := r.startReady(ctx)
	for running > 0 {
		d := <-r.results
		running--
		if done != nil {
			done(d)
		}
		if d.Err != nil {
			if first == nil {
				first = fmt.Errorf("%s: %w", d.Name, d.Err)
				cancel()
			}
			continue
		}
		r.finished[d.Name] = true
		if first == nil {
			running += r.startReady(ctx)
		}
	}
	if first == nil && ctx.Err() != nil && len(r.finished) < len(r.list) {
		return ctx.Err()
	}
	return first
}

// startReady starts every step not yet started whose predecessors have all
// finished, and says how many it started.
func (r *runner) startReady(ctx context.Context) int {
	n := 0
	for _, s := range r.list {
		if r.started[s.Name] || !r.ready(s) || ctx.Err() != nil {
			continue
		}
		r.started[s.Name] = true
		n++
		go func() {
			start := time.Since(r.begin)
			err := s.Run(ctx)
			r.results <- Done{Name: s.Name, Start: start, Took: time.Since(r.begin) - start, Err: err}
		}()
	}
	return n
}

func (r *runner) ready(s Step) bool {
	for _, a := range s.After {
		if !r.finished[a] {
			return false
		}
	}
	return true
}

// Check refuses a list with a repeated or empty name, a step after an
// unknown one, a step without Run, or a cycle.
func Check(list []Step) error {
	byName := map[string]Step{}
	var errs []error
	for _, s := range list {
		switch {
		case s.Name == "":
			errs = append(errs, errors.New("a step has no name"))
		case byName[s.Name].Name != "":
			errs = append(errs, fmt.Errorf("step %q is listed twice", s.Name))
		case s.Run == nil:
			errs = append(errs, fmt.Errorf("step %q has nothing to run", s.Name))
		}
		byName[s.Name] = s
	}
	for _, s := range list {
		for _, a := range s.After {
			if _, ok := byName[a]; !ok {
				errs = append(errs, fmt.Errorf("step %q comes after %q, which is not a step", s.Name, a))
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return checkCycles(list, byName)
}

// checkCycles walks the After links depth first; a step met again on the
// path being walked closes a cycle.
func checkCycles(list []Step, byName map[string]Step) error {
	const (
		walking = 1
		cleared = 2
	)
	mark := map[string]int{}
	var path []string
	var visit func(name string) error
	visit = func(name string) error {
		switch mark[name] {
		case cleared:
			return nil
		case walking:
			i := slices.Index(path, name)
			return fmt.Errorf("steps wait on each other: %v", append(path[i:], name))
		}
		mark[name] = walking
		path = append(path, name)
		for _, a := range byName[name].After {
			if err := visit(a); err != nil {
				return err
			}
		}
		path = path[:len(path)-1]
		mark[name] = cleared
		return nil
	}
	for _, s := range list {
		if err := visit(s.Name); err != nil {
			return err
		}
	}
	return nil
}
