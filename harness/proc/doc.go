// Package proc identifies processes by PID and start time, so that a recorded
// process is never confused with a later one that reused its PID, and stops them
// with real signals.
//
//	id, _ := proc.Identify(cmd.Process.Pid)   // record id in the lab's state
//	...
//	err := proc.Stop(ctx, id, 5*time.Second)  // SIGTERM, then SIGKILL; no-op if gone
package proc
