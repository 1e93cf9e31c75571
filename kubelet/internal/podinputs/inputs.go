package podinputs

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/kubernetes/pkg/kubelet/podcertificate"
	"k8s.io/utils/clock"

	"github.com/kinns/kinns/kubelet/config"
	"github.com/kinns/kinns/kubelet/internal/tokens"
	"github.com/kinns/kinns/kubelet/records"
	"github.com/kinns/kinns/kubelet/runtime"
)

// Inputs gives a node's pods what their containers read: it reads the API
// (ConfigMaps, Secrets, service account tokens, Services) and writes the
// pods' files under the kubelet's state folder.
type Inputs struct {
	cfg    config.Config
	client kubernetes.Interface
	log    *slog.Logger
	tokens *tokens.Manager

	// services is set by WatchServices before any pod is synced.
	services corelisters.ServiceLister
	// podCerts is set by WatchPodCertificates, while the pod informer's
	// handlers and pod workers may already read it: hence the lock.
	podCertsMu sync.RWMutex
	podCerts   podcertificate.Manager
	// imageMounts mounts image volumes; set by SetImageMounter.
	imageMounts runtime.ImageMounter
}

// Sandbox is what every container of a pod shares.
type Sandbox struct {
	// NetnsPath is the network namespace's file the containers join; IP
	// its address (the node's for hostNetwork pods).
	NetnsPath, IP string
	// Dir holds the pod's hosts, resolv.conf and hostname files.
	Dir string
}

// New makes the inputs of the pods of the node cfg describes; cfg must be
// defaulted (config.Config.Default).
func New(cfg config.Config, client kubernetes.Interface) *Inputs {
	return &Inputs{cfg: cfg, client: client, log: cfg.Log, tokens: tokens.New(client, cfg.TokenMaxAge, clock.RealClock{})}
}

// WatchServices starts the Service informer and waits until it has synced,
// so that the first containers already get their service variables. The
// returned func stops it.
func (in *Inputs) WatchServices(ctx context.Context) (stop func(), err error) {
	factory := informers.NewSharedInformerFactory(in.client, 0)
	inf := factory.Core().V1().Services()
	in.services = inf.Lister()
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.Informer().HasSynced) {
		factory.Shutdown()
		return nil, fmt.Errorf("watch services: %w", ctx.Err())
	}
	return factory.Shutdown, nil
}

// PodDir is the pod's folder in the state folder: its record, its files
// and its volumes.
func (in *Inputs) PodDir(uid types.UID) string { return records.PodDir(in.cfg.StateDir, uid) }

// SeccompDir holds the node's seccomp profiles: a pod's Localhost profile
// "p.json" is <StateDir>/seccomp/p.json (upstream: /var/lib/kubelet/seccomp).
func (in *Inputs) SeccompDir() string { return filepath.Join(in.cfg.StateDir, "seccomp") }

// PodLogDir holds the pod's container logs: <LogDir>/<ns>_<pod>_<uid>.
func (in *Inputs) PodLogDir(ref runtime.PodRef) string {
	return filepath.Join(in.cfg.LogDir, ref.Namespace+"_"+ref.Name+"_"+ref.UID)
}

// LogPath is a run's log file: <PodLogDir>/<container>/<restartCount>.log.
func (in *Inputs) LogPath(ref runtime.PodRef, container string, attempt int) string {
	return filepath.Join(in.PodLogDir(ref), container, strconv.Itoa(attempt)+".log")
}

// PodCgroup is the pod's cgroup, <CgroupParent>/pod<uid>; its containers'
// are one level below.
func (in *Inputs) PodCgroup(uid types.UID) string {
	return in.cfg.CgroupParent + "/pod" + string(uid)
}

// writeFileAtomic replaces path at once: a container never reads half a file.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
