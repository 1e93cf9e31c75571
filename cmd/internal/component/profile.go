package component

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"time"
)

// profileStart records a CPU profile of a component's first seconds when
// KINNS_CPUPROFILE_DIR is set (the supervisor's environment reaches every
// component): DIR/KIND-PID.pprof, over KINNS_CPUPROFILE_SECONDS (10 by
// default). It is how bring-up time is profiled (make bench's leads); the
// returned function stops a profile still running when the component ends.
func profileStart(kind string) (stop func()) {
	dir := os.Getenv("KINNS_CPUPROFILE_DIR")
	if dir == "" {
		return func() {}
	}
	secs, err := strconv.Atoi(os.Getenv("KINNS_CPUPROFILE_SECONDS"))
	if err != nil || secs <= 0 {
		secs = 10
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.pprof", kind, os.Getpid())))
	if err != nil {
		fmt.Fprintln(os.Stderr, "cpu profile:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "cpu profile:", err)
		f.Close()
		return func() {}
	}
	timer := time.AfterFunc(time.Duration(secs)*time.Second, func() { pprof.StopCPUProfile(); f.Close() })
	return func() {
		if timer.Stop() {
			pprof.StopCPUProfile()
			f.Close()
		}
	}
}
