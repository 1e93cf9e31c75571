package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/tools/remotecommand"
)

// Labels every container of a pod carries in containerd. They are the only
// record of which pod a container belongs to and how its run ended, so a
// restarted kubelet rebuilds everything from them. The pod keys are the ones
// CRI runtimes use, so `ctr c info` reads the same as on a kubeadm node.
const (
	LabelPodUID        = "io.kubernetes.pod.uid"
	LabelPodNamespace  = "io.kubernetes.pod.namespace"
	LabelPodName       = "io.kubernetes.pod.name"
	LabelContainerName = "io.kubernetes.container.name"

	LabelAttempt   = "kinns.io/restart-count"
	LabelInit      = "kinns.io/init-container"
	LabelEphemeral = "kinns.io/ephemeral-container"
	LabelTTY       = "kinns.io/tty"
	LabelImage     = "kinns.io/image"
	LabelImageID   = "kinns.io/image-id"
	LabelLogPath   = "kinns.io/log-path"
	LabelCgroup    = "kinns.io/cgroup"
	// LabelResources records the cgroup limits last applied to the run (at
	// its start, then by each in-place resize): the runtime's answer to
	// "what does this container have now", kept across kubelet restarts.
	LabelResources  = "kinns.io/resources"
	LabelStopSignal = "kinns.io/stop-signal"
	LabelStartedAt  = "kinns.io/started-at"
	LabelFinishedAt = "kinns.io/finished-at"
	LabelExitCode   = "kinns.io/exit-code"
	LabelReason     = "kinns.io/reason"
	LabelMessage    = "kinns.io/message"
)

// Exit reasons, as Kubernetes shows them in a terminated container state.
const (
	ReasonCompleted = "Completed"
	ReasonError     = "Error"
	ReasonOOMKilled = "OOMKilled"
	// ReasonStartError: the task could not be created or started (the
	// command does not exist, say). Recorded as a run that ended at once with
	// exit code 128, so the kubelet backs off and retries as for a crash.
	ReasonStartError = "StartError"
	// ReasonUnknown: the task vanished (containerd lost it) before its exit
	// could be recorded.
	ReasonUnknown = "ContainerStatusUnknown"
)

// State is where a container is in its life.
type State string

const (
	// StateCreated: made but never started (a start was interrupted).
	StateCreated State = "created"
	StateRunning State = "running"
	StateExited  State = "exited"
)

// PodRef names the pod a container belongs to.
type PodRef struct {
	UID, Namespace, Name string
}

// Container is one run of one container of a pod: every restart is a new
// Container with Attempt one higher.
type Container struct {
	ID   string
	Pod  PodRef
	Name string
	Init bool
	// Ephemeral: one of the pod's ephemeral containers (kubectl debug),
	// run once and never restarted.
	Ephemeral bool
	// TTY: the run has a terminal (Spec.TTY).
	TTY bool
	// Attempt is the restart count of this run: 0 for the first.
	Attempt int
	// Image is the reference the pod asked for, normalized; ImageID is
	// "<repository>@<digest>" of what ran.
	Image, ImageID string
	State          State
	ExitCode       int
	// Reason and Message say why an exited run ended.
	Reason, Message string
	StartedAt       time.Time
	FinishedAt      time.Time
	LogPath         string
	// Resources are the cgroup limits last applied to the run.
	Resources Resources
}

// Image is an image present in the node's containerd namespace.
type Image struct {
	// Ref is the normalized name ("docker.io/library/nginx:1.27").
	Ref string
	// ID is "<repository>@<digest>" of the image's manifest.
	ID string
	// User is the user its config runs as ("1000", "app:staff"); empty for
	// root.
	User string
	// Size is the bytes of its manifest, config and layers as stored (the
	// compressed layers), as upstream reports an image's size.
	Size int64
}

// Mount is a host file or folder seen inside the container.
type Mount struct {
	HostPath, ContainerPath string
	ReadOnly                bool
}

// Resources are the cgroup limits of one container; zero means unlimited.
type Resources struct {
	// CPUQuota is in microseconds per CPUPeriod (100000 if zero).
	CPUQuota  int64
	CPUPeriod uint64
	CPUShares uint64
	// MemoryLimit is in bytes.
	MemoryLimit int64
}

// String encodes r for LabelResources: "shares=2,quota=0,period=0,memory=0".
func (r Resources) String() string {
	return fmt.Sprintf("shares=%d,quota=%d,period=%d,memory=%d", r.CPUShares, r.CPUQuota, r.CPUPeriod, r.MemoryLimit)
}

// ParseResources reads what Resources.String wrote; unknown or malformed
// fields are left zero (a run recorded before the label existed).
func ParseResources(s string) Resources {
	var r Resources
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			continue
		}
		switch k {
		case "shares":
			r.CPUShares = uint64(n)
		case "quota":
			r.CPUQuota = n
		case "period":
			r.CPUPeriod = uint64(n)
		case "memory":
			r.MemoryLimit = n
		}
	}
	return r
}

// Spec is what Start needs to run one attempt of one container.
type Spec struct {
	Pod       PodRef
	Name      string
	Init      bool
	Ephemeral bool
	Attempt   int
	Image     Image
	// Command and Args have Kubernetes' meaning: a Command replaces the image's
	// entrypoint and drops its cmd; Args alone replace its cmd.
	Command, Args []string
	// Env is KEY=VALUE, added to (and overriding) the image's.
	Env        []string
	WorkingDir string
	Hostname   string
	// NetnsPath is the pod's network namespace file; the container joins it.
	NetnsPath string
	// SharePIDWith, when set, is the ID of a running run whose process
	// namespace the container joins (an ephemeral container's
	// targetContainerName); empty: a namespace of its own.
	SharePIDWith string
	// CgroupPath is the container's cgroup ("/kinns/lab/node-1/pod<uid>/<id>").
	CgroupPath string
	Resources  Resources
	Mounts     []Mount
	// Security confines the process; the zero value is the image's user
	// with the runtime's default capabilities.
	Security Security
	// LogPath is the CRI-format file the run's stdout and stderr go to.
	LogPath string
	// Stdin gives the process a stdin that attach sessions write to (the
	// container's stdin); without it, its stdin is empty. StdinOnce closes
	// it when the first attach session with stdin ends. TTY gives it a
	// terminal, whose output is stdout alone.
	Stdin, StdinOnce, TTY bool
}

// ID is the containerd container ID of this attempt: readable in `ctr c ls`,
// unique per pod UID, container and attempt, within containerd's 76 bytes.
func (s Spec) ID() string {
	return fmt.Sprintf("%s_%s_%s_%d", sanitize(s.Pod.Name, 28), sanitize(s.Name, 28), shortHash(s.Pod.UID), s.Attempt)
}

// Exec is a command to run in a running container.
type Exec struct {
	Cmd []string
	// Stdin may be nil. Stdout and Stderr may be nil (output dropped).
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	TTY            bool
	// Resize, with TTY, carries terminal size changes; may be nil.
	Resize <-chan remotecommand.TerminalSize
}

// Attach is a session on a running run's streams (kubectl attach).
type Attach struct {
	// Stdin, if not nil, is written to the run's stdin, if it has one
	// (Spec.Stdin), until it ends: the client detached.
	Stdin io.Reader
	// Stdout and Stderr get the run's output from now on; nil drops it.
	Stdout, Stderr io.Writer
	// Resize, for a run with a TTY, carries terminal size changes; may be nil.
	Resize <-chan remotecommand.TerminalSize
}

// ErrNotFound means no such container (or no running task for an exec).
var ErrNotFound = errors.New("container not found")

// ImageError is a failure to provide a container's image. Reason is the
// waiting reason Kubernetes shows: ErrImagePull, ErrImageNeverPull or
// InvalidImageName.
type ImageError struct {
	Reason, Image string
	Err           error
}

func (e *ImageError) Error() string {
	return fmt.Sprintf("image %q: %v", e.Image, e.Err)
}

func (e *ImageError) Unwrap() error { return e.Err }

// CreateError is a failure to create the containerd container of a run
// (Kubernetes' CreateContainerError): nothing ran and nothing is left behind.
type CreateError struct{ Err error }

func (e *CreateError) Error() string { return "create container: " + e.Err.Error() }
func (e *CreateError) Unwrap() error { return e.Err }

// sanitize makes s fit a containerd ID part: letters and digits, single
// separators, at most n bytes.
func sanitize(s string, n int) string {
	var b strings.Builder
	sep := true // no leading separator
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if ok {
			b.WriteRune(r)
			sep = false
		} else if !sep {
			b.WriteByte('-')
			sep = true
		}
		if b.Len() >= n {
			break
		}
	}
	out := strings.TrimRight(b.String(), "-._")
	if out == "" {
		return "x"
	}
	return out
}

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:4])
}
