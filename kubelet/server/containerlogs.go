package server

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/kinns/kinns/kubelet/logs"
)

// containerLogs answers GET /containerLogs/{namespace}/{pod}/{container}
// with the query the API server forwards from a pod's log subresource.
func (s *server) containerLogs(w http.ResponseWriter, r *http.Request) {
	ns, pod, container := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
	q, err := parseLogQuery(r.URL.Query(), time.Now())
	if err != nil {
		httpError(w, err, statusOf(err))
		return
	}
	path, err := s.p.LogPath(ns, pod, container, q.previous)
	if err != nil {
		httpError(w, fmt.Errorf("find logs of container %q in pod %s/%s: %w", container, ns, pod, err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	out := &flushWriter{w: w}
	err = logs.Read(r.Context(), path, q.opts, out)
	switch {
	case err == nil:
	case out.started:
		s.log.Debug("log stream ended early", "pod", ns+"/"+pod, "container", container, "err", err)
	case errors.Is(err, fs.ErrNotExist):
		http.Error(w, fmt.Sprintf("log of container %q in pod %s/%s not found", container, ns, pod), http.StatusNotFound)
	default:
		http.Error(w, fmt.Sprintf("read logs of container %q in pod %s/%s: %v", container, ns, pod, err), http.StatusInternalServerError)
	}
}

// flushWriter sends every write to the client at once (logs.Read buffers
// and writes when it has caught up with the file), and notes whether the
// response has started, after which errors can no longer be reported.
type flushWriter struct {
	w       http.ResponseWriter
	started bool
}

func (f *flushWriter) Write(p []byte) (int, error) {
	f.started = true
	n, err := f.w.Write(p)
	if fl, ok := f.w.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}

type logQuery struct {
	opts     logs.Options
	previous bool
}

// queryError is a bad query: 400 when a value does not parse, 422 when the
// values parse but are invalid, as the kubelet answers.
type queryError struct {
	msg  string
	code int
}

func (e *queryError) Error() string { return e.msg }

func statusOf(err error) int {
	var qe *queryError
	if errors.As(err, &qe) {
		return qe.code
	}
	return http.StatusBadRequest
}

func badQuery(format string, args ...any) error {
	return &queryError{msg: fmt.Sprintf(format, args...), code: http.StatusBadRequest}
}

func invalidQuery(format string, args ...any) error {
	return &queryError{msg: fmt.Sprintf(format, args...), code: http.StatusUnprocessableEntity}
}

// parseLogQuery reads PodLogOptions' query form: follow, previous,
// timestamps, tailLines (or the older tail, where "all" means no limit),
// sinceSeconds or sinceTime (RFC 3339), limitBytes, and stream
// (All, Stdout, Stderr). Other parameters are ignored.
func parseLogQuery(q url.Values, now time.Time) (logQuery, error) {
	var lq logQuery
	var err error
	for name, dst := range map[string]*bool{"follow": &lq.opts.Follow, "previous": &lq.previous, "timestamps": &lq.opts.Timestamps} {
		if *dst, err = boolParam(q, name); err != nil {
			return lq, err
		}
	}
	tail := q.Get("tailLines")
	if legacy := q.Get("tail"); tail == "" && legacy != "all" {
		tail = legacy
	}
	if lq.opts.TailLines, err = intParam("tailLines", tail, 0); err != nil {
		return lq, err
	}
	if lq.opts.LimitBytes, err = intParam("limitBytes", q.Get("limitBytes"), 1); err != nil {
		return lq, err
	}
	if lq.opts.SinceTime, err = sinceParam(q, now); err != nil {
		return lq, err
	}
	lq.opts.Stream, err = streamParam(q.Get("stream"))
	return lq, err
}

func boolParam(q url.Values, name string) (bool, error) {
	v := q.Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badQuery("%s=%q is not a boolean", name, v)
	}
	return b, nil
}

// intParam parses an optional integer that must be at least minimum.
func intParam(name, v string, minimum int64) (*int64, error) {
	if v == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, badQuery("%s=%q is not an integer", name, v)
	}
	if n < minimum {
		return nil, invalidQuery("%s must be at least %d", name, minimum)
	}
	return &n, nil
}

func sinceParam(q url.Values, now time.Time) (*time.Time, error) {
	seconds, err := intParam("sinceSeconds", q.Get("sinceSeconds"), 1)
	if err != nil {
		return nil, err
	}
	sinceTime := q.Get("sinceTime")
	switch {
	case seconds != nil && sinceTime != "":
		return nil, invalidQuery("at most one of sinceTime or sinceSeconds may be specified")
	case seconds != nil:
		t := now.Add(-time.Duration(*seconds) * time.Second)
		return &t, nil
	case sinceTime != "":
		t, err := time.Parse(time.RFC3339, sinceTime)
		if err != nil {
			return nil, badQuery("sinceTime=%q is not an RFC 3339 time", sinceTime)
		}
		return &t, nil
	}
	return nil, nil
}

func streamParam(v string) (string, error) {
	switch v {
	case "", "All":
		return "", nil
	case "Stdout":
		return "stdout", nil
	case "Stderr":
		return "stderr", nil
	}
	return "", badQuery("stream=%q is not All, Stdout or Stderr", v)
}
