package logs

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// MaxRecordSize is the most content one record carries: a longer line is cut
// into partial records of this size, as container runtimes do (16 KiB).
const MaxRecordSize = 16 << 10

const (
	// liveMode is the mode of a log file that may still grow; Close drops the
	// owner's write bit, which tells followers the file is complete.
	liveMode = 0o640
	doneMode = 0o440

	tagFull    = "F"
	tagPartial = "P"
)

// Writer appends CRI-format records to one container log file. Its streams
// may be written from different goroutines: each Write lands in the file as a
// single append, so records of stdout and stderr never interleave mid-record.
type Writer struct {
	mu     sync.Mutex
	f      *os.File
	now    func() time.Time
	closed bool
}

// Create opens path for appending (making its folder), so a kubelet that
// restarts keeps adding to the same run's file.
func Create(path string) (*Writer, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create log folder for %q: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, liveMode)
	if err != nil {
		return nil, fmt.Errorf("open log file %q: %w", path, err)
	}
	if err := f.Chmod(liveMode); err != nil { // reopened after a Close: live again
		f.Close()
		return nil, fmt.Errorf("mark log file %q live: %w", path, err)
	}
	return &Writer{f: f, now: time.Now}, nil
}

// Stream returns the writer for one output stream, named in every record
// ("stdout" or "stderr"). Every newline-terminated line of a Write becomes a
// full (F) record; an unterminated tail becomes a partial (P) record at once,
// so followers see output that has no newline yet; lines longer than
// MaxRecordSize are cut into partial records.
func (w *Writer) Stream(name string) io.Writer {
	return &streamWriter{w: w, name: name}
}

// Close marks the file complete (readers that follow it stop once they have
// read everything) and closes it. Writes after Close fail with os.ErrClosed.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	chmodErr := w.f.Chmod(doneMode)
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("close log file %q: %w", w.f.Name(), err)
	}
	if chmodErr != nil {
		return fmt.Errorf("mark log file %q complete: %w", w.f.Name(), chmodErr)
	}
	return nil
}

func (w *Writer) append(record []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return os.ErrClosed
	}
	if _, err := w.f.Write(record); err != nil {
		return fmt.Errorf("write log file %q: %w", w.f.Name(), err)
	}
	return nil
}

type streamWriter struct {
	w    *Writer
	name string
}

func (s *streamWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	ts := s.w.now().UTC().Format(time.RFC3339Nano)
	if err := s.w.append(encode(ts, s.name, p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// encode turns one chunk of output into records stamped ts.
func encode(ts, stream string, p []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(p) + 64)
	for len(p) > 0 {
		line, rest, found := bytes.Cut(p, []byte{'\n'})
		for len(line) > MaxRecordSize {
			writeRecord(&buf, ts, stream, tagPartial, line[:MaxRecordSize])
			line = line[MaxRecordSize:]
		}
		tag := tagFull
		if !found {
			tag = tagPartial
		}
		if found || len(line) > 0 {
			writeRecord(&buf, ts, stream, tag, line)
		}
		p = rest
	}
	return buf.Bytes()
}

func writeRecord(buf *bytes.Buffer, ts, stream, tag string, content []byte) {
	buf.WriteString(ts)
	buf.WriteByte(' ')
	buf.WriteString(stream)
	buf.WriteByte(' ')
	buf.WriteString(tag)
	buf.WriteByte(' ')
	buf.Write(content)
	buf.WriteByte('\n')
}
