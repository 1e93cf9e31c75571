package logs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// DefaultPollInterval is how often a follower looks for new records when
// Options.PollInterval is zero.
const DefaultPollInterval = 100 * time.Millisecond

// Options select what Read copies; they mirror the kubelet API's log query.
type Options struct {
	// Follow keeps copying records as they are appended, until ctx is done,
	// Done is closed, or the file is complete: closed by its Writer, removed,
	// or replaced at path by another file. Records already in the file when
	// the end is noticed are still copied (except when ctx is done).
	Follow bool
	// TailLines, when set, starts at the last N lines (of the selected stream).
	TailLines *int64
	// SinceTime, when set, skips records stamped before it.
	SinceTime *time.Time
	// Timestamps prefixes each line with its record's timestamp and a space.
	Timestamps bool
	// LimitBytes, when set, stops after that many bytes of output.
	LimitBytes *int64
	// Stream keeps only "stdout" or "stderr" records; empty keeps both.
	Stream string
	// Done, when not nil, ends a follow once closed (after a last read).
	Done <-chan struct{}
	// PollInterval is how often a follower checks for new records.
	PollInterval time.Duration
}

// Read copies the container log at path to w as `kubectl logs` shows it: the
// content of each line, partial records joined into their line, prefixed by
// "<RFC3339Nano timestamp> " when opts.Timestamps. Malformed records are
// skipped. Output is buffered and flushed whenever Read has caught up with the
// file, so a follower's reader sees lines promptly. An error opening the file
// wraps fs.ErrNotExist when it is missing.
func Read(ctx context.Context, path string, opts Options, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open log file: %w", err)
	}
	defer f.Close()
	if opts.TailLines != nil && *opts.TailLines >= 0 {
		if err := seekTail(f, *opts.TailLines, opts.Stream); err != nil {
			return fmt.Errorf("find last %d lines of %q: %w", *opts.TailLines, path, err)
		}
	}
	fl := &follower{f: f, path: path, opts: opts}
	return fl.run(ctx, newPrinter(w, opts))
}

type follower struct {
	f    *os.File
	path string
	opts Options
}

type waitResult int

const (
	moreData waitResult = iota
	drainThenStop
	stopNow
)

func (fl *follower) run(ctx context.Context, p *printer) error {
	rr := newRecordReader(fl.f)
	draining := false
	for {
		stop, err := copyAvailable(rr, p)
		if err != nil {
			return fmt.Errorf("read log file %q: %w", fl.path, err)
		}
		if err := p.flush(); err != nil || stop || !fl.opts.Follow || draining {
			return err
		}
		switch fl.wait(ctx) {
		case stopNow:
			return nil
		case drainThenStop:
			draining = true
		}
	}
}

// copyAvailable prints every complete record up to the end of the file.
func copyAvailable(rr *recordReader, p *printer) (stop bool, err error) {
	for {
		line, err := rr.next()
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		rec, ok := parseRecord(line)
		if !ok {
			continue
		}
		if stop, err := p.print(rec); stop || err != nil {
			return stop, err
		}
	}
}

// wait sleeps one poll interval unless the follow should end.
func (fl *follower) wait(ctx context.Context) waitResult {
	if fl.complete() {
		return drainThenStop
	}
	interval := fl.opts.PollInterval
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	t := time.NewTimer(interval)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return stopNow
	case <-fl.opts.Done:
		return drainThenStop
	case <-t.C:
		if fl.complete() {
			return drainThenStop
		}
		return moreData
	}
}

// complete reports whether the open file can no longer grow: its Writer
// closed it, or path no longer names it.
func (fl *follower) complete() bool {
	open, err := fl.f.Stat()
	if err != nil || open.Mode().Perm()&0o200 == 0 {
		return true
	}
	current, err := os.Stat(fl.path)
	return err != nil || !os.SameFile(open, current)
}

// seekTail moves f to the first record of the last n lines of stream, in two
// passes (count, then skip), so memory stays constant whatever n is.
func seekTail(f *os.File, n int64, stream string) error {
	total, err := countLines(f, stream)
	if err != nil {
		return err
	}
	skip := total - n
	offset := int64(0)
	if skip > 0 {
		if offset, err = offsetAfterLines(f, skip, stream); err != nil {
			return err
		}
	}
	_, err = f.Seek(offset, io.SeekStart)
	return err
}

// countLines counts the lines of stream in f's complete records: one per full
// record, plus one for trailing partial records.
func countLines(f *os.File, stream string) (int64, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	rr := newRecordReader(f)
	var lines int64
	open := false
	for {
		line, err := rr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, err
		}
		if rec, ok := parseRecord(line); ok && rec.in(stream) {
			open = rec.partial
			if !rec.partial {
				lines++
			}
		}
	}
	if open {
		lines++
	}
	return lines, nil
}

// offsetAfterLines returns the offset just after the skip-th full record of stream.
func offsetAfterLines(f *os.File, skip int64, stream string) (int64, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	rr := newRecordReader(f)
	for seen := int64(0); ; {
		line, err := rr.next()
		if err != nil {
			return 0, err // io.EOF cannot happen: countLines saw these records
		}
		if rec, ok := parseRecord(line); ok && rec.in(stream) && !rec.partial {
			if seen++; seen == skip {
				return rr.off, nil
			}
		}
	}
}

// recordReader splits a growing file into newline-terminated records. An
// incomplete last record (the writer's append not fully visible yet) stays
// pending until a later call completes it.
type recordReader struct {
	r       *bufio.Reader
	pending []byte
	off     int64 // file offset just after the last record returned
}

func newRecordReader(f *os.File) *recordReader {
	start, _ := f.Seek(0, io.SeekCurrent)
	return &recordReader{r: bufio.NewReaderSize(f, 64<<10), off: start}
}

// next returns the next record without its newline, valid until the next
// call, or io.EOF when no complete record is available yet.
func (rr *recordReader) next() ([]byte, error) {
	for {
		chunk, err := rr.r.ReadSlice('\n')
		switch {
		case err == nil:
			line := chunk
			if len(rr.pending) > 0 {
				rr.pending = append(rr.pending, chunk...)
				line = rr.pending
				rr.pending = rr.pending[:0]
			}
			rr.off += int64(len(line))
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			rr.pending = append(rr.pending, chunk...)
		default:
			rr.pending = append(rr.pending, chunk...)
			return nil, err
		}
	}
}

// record is one parsed line of the file; its slices alias the read buffer.
type record struct {
	ts, stream, content []byte
	partial             bool
}

func (r record) in(stream string) bool {
	return stream == "" || string(r.stream) == stream
}

// parseRecord splits "<timestamp> <stream> <tags> <content>"; tags are
// colon-separated and the first one is P (partial) or F (full).
func parseRecord(line []byte) (record, bool) {
	ts, rest, ok1 := bytes.Cut(line, []byte{' '})
	stream, rest, ok2 := bytes.Cut(rest, []byte{' '})
	tags, content, _ := bytes.Cut(rest, []byte{' '})
	if !ok1 || !ok2 || len(ts) == 0 || len(stream) == 0 || len(tags) == 0 {
		return record{}, false
	}
	tag, _, _ := bytes.Cut(tags, []byte{':'})
	return record{ts: ts, stream: stream, content: content, partial: string(tag) == tagPartial}, true
}

// printer renders records as kubectl shows them.
type printer struct {
	w     *bufio.Writer
	opts  Options
	left  int64   // bytes still allowed; negative means no limit
	open  [2]bool // stdout, other: a line was started by partial records
	since time.Time
}

func newPrinter(w io.Writer, opts Options) *printer {
	p := &printer{w: bufio.NewWriterSize(w, 32<<10), opts: opts, left: -1}
	if opts.LimitBytes != nil {
		p.left = max(*opts.LimitBytes, 0)
	}
	if opts.SinceTime != nil {
		p.since = *opts.SinceTime
	}
	return p
}

func (p *printer) print(rec record) (stop bool, err error) {
	if p.left == 0 {
		return true, nil
	}
	if !rec.in(p.opts.Stream) || p.before(rec) {
		return false, nil
	}
	i := 1
	if string(rec.stream) == "stdout" {
		i = 0
	}
	if p.opts.Timestamps && !p.open[i] {
		if stop, err := p.write(rec.ts, ' '); stop || err != nil {
			return stop, err
		}
	}
	p.open[i] = rec.partial
	if rec.partial {
		return p.write(rec.content)
	}
	return p.write(rec.content, '\n')
}

func (p *printer) before(rec record) bool {
	if p.opts.SinceTime == nil {
		return false
	}
	t, err := time.Parse(time.RFC3339Nano, string(rec.ts))
	return err != nil || t.Before(p.since)
}

// write outputs b and then the optional trailing bytes, within the limit.
func (p *printer) write(b []byte, trailer ...byte) (stop bool, err error) {
	for _, part := range [][]byte{b, trailer} {
		if p.left >= 0 && int64(len(part)) >= p.left {
			_, err := p.w.Write(part[:p.left])
			p.left = 0
			return true, err
		}
		if _, err := p.w.Write(part); err != nil {
			return true, err
		}
		if p.left > 0 {
			p.left -= int64(len(part))
		}
	}
	return false, nil
}

func (p *printer) flush() error {
	if err := p.w.Flush(); err != nil {
		return fmt.Errorf("write logs: %w", err)
	}
	return nil
}
