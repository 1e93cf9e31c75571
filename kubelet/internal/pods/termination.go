package pods

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kinns/kinns/kubelet/logs"
	"github.com/kinns/kinns/kubelet/runtime"
)

// Bounds of a termination message, as upstream's kubelet has them: the
// file's last 4096 bytes; from the log, its last 80 lines, at most their
// last 2048 bytes.
const (
	maxMessageBytes    = 4096
	maxMessageLogLines = 80
	maxMessageLogBytes = 2048
)

// messageSource reads what an exited run left: its termination log file
// (an error wrapping fs.ErrNotExist when there is none) and its log's tail.
type messageSource struct {
	file    func() ([]byte, error)
	logTail func() (string, error)
}

// terminationMessage is what an exited run's state.terminated.message
// says, as upstream builds it: the runtime's own message, then ": " and the
// container's termination log; under FallbackToLogsOnError, a run that
// failed (not one that never started) and left no termination log gives
// the tail of its log instead.
func terminationMessage(c *v1.Container, r runtime.Container, src messageSource) string {
	fallback := c.TerminationMessagePolicy == v1.TerminationMessageFallbackToLogsOnError &&
		r.ExitCode != 0 && r.Reason != runtime.ReasonStartError
	var msg string
	toLogs := fallback
	if c.TerminationMessagePath != "" {
		data, err := src.file()
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			msg, toLogs = fmt.Sprintf("Error on reading termination log: %v", err), false
		default:
			msg, toLogs = string(data), fallback && len(data) == 0
		}
	}
	if toLogs {
		tail, err := src.logTail()
		if msg = tail; err != nil {
			msg = fmt.Sprintf("Error on reading termination message from logs: %v", err)
		}
	}
	switch {
	case msg == "":
		return r.Message
	case r.Message == "":
		return msg
	}
	return r.Message + ": " + msg
}

// withMessages is rs with each exited run's termination message, read once
// per run (an exited run does not change) and kept in w.messages.
func (w *podWorker) withMessages(ctx context.Context, pod *v1.Pod, rs runs) runs {
	out := make(runs, len(rs))
	for name, list := range rs {
		out[name] = append([]runtime.Container(nil), list...)
		for i := range out[name] {
			r := &out[name][i]
			c := containerByName(pod, r.Name, r.Init)
			if r.Ephemeral {
				c = ephemeralByName(pod, r.Name)
			}
			if r.State != runtime.StateExited || c == nil {
				continue
			}
			msg, ok := w.messages[r.ID]
			if !ok {
				msg = terminationMessage(c, *r, w.k.messageSource(ctx, pod.UID, *r))
				w.messages[r.ID] = msg
			}
			r.Message = msg
		}
	}
	return out
}

// messageSource reads a run's files on the node.
func (k *Manager) messageSource(ctx context.Context, uid types.UID, r runtime.Container) messageSource {
	return messageSource{
		file: func() ([]byte, error) {
			return readLast(k.inputs.TerminationLogPath(uid, r.Name, r.Attempt), maxMessageBytes)
		},
		logTail: func() (string, error) { return logTail(ctx, r.LogPath) },
	}
}

// readLast reads the last n bytes of a file.
func readLast(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if info.Size() > n {
		if _, err := f.Seek(info.Size()-n, io.SeekStart); err != nil {
			return nil, err
		}
	}
	return io.ReadAll(io.LimitReader(f, n))
}

// logTail is the last lines of a run's log, as `kubectl logs --tail`
// shows them, cut to their last maxMessageLogBytes.
func logTail(ctx context.Context, path string) (string, error) {
	if path == "" {
		return "", nil
	}
	var buf bytes.Buffer
	lines := int64(maxMessageLogLines)
	if err := logs.Read(ctx, path, logs.Options{TailLines: &lines}, &buf); err != nil {
		return "", err
	}
	b := buf.Bytes()
	return string(b[max(0, len(b)-maxMessageLogBytes):]), nil
}
