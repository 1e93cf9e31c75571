// Package logs writes and reads container log files in the CRI format that
// container runtimes and the kubelet share: one record per line,
//
//	<RFC3339Nano UTC timestamp> <stdout|stderr> <F|P> <content>
//
// where F closes a line and P is a piece of a line still going on (output
// without a newline yet, or a line longer than MaxRecordSize).
//
// The kubelet gives a container's two output streams to a Writer, one file
// per run of the container, and closes it when the run ends; the kubelet's
// server answers `kubectl logs` with Read:
//
//	w, err := logs.Create("/var/log/pods/default_web_<uid>/app/0.log")
//	if err != nil { ... }
//	go io.Copy(w.Stream("stdout"), taskStdout)
//	go io.Copy(w.Stream("stderr"), taskStderr)
//	... // the task exits, both copies end
//	w.Close() // followers finish reading and return
//
//	err = logs.Read(ctx, path, logs.Options{Follow: true, TailLines: &ten}, httpResponse)
//
// Close marks the file complete by dropping its owner write bit (mode 0440);
// a follower polls (Options.PollInterval) and stops once the file is complete,
// removed or replaced at its path, or Options.Done is closed — after copying
// what is left — or at once when its context is done.
package logs
