package localpath

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	v1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	"github.com/kinns/kinns/controlplane/controllers/internal/loop"
)

// Provisioner is the name the StorageClass `standard` names.
const Provisioner = "kinns.io/local-path"

// The annotations of the volume protocol (upstream's names).
const (
	AnnSelectedNode        = "volume.kubernetes.io/selected-node"
	AnnStorageProvisioner  = "volume.kubernetes.io/storage-provisioner"
	annBetaProvisioner     = "volume.beta.kubernetes.io/storage-provisioner"
	AnnProvisionedBy       = "pv.kubernetes.io/provisioned-by"
	folderName             = "local-path"
	hostnameLabel          = v1.LabelHostname
	claimKeyPrefix         = "pvc/"
	volumeKeyPrefix        = "pv/"
	reasonProvisionFailed  = "ProvisioningFailed"
	reasonProvisionSucceed = "ProvisioningSucceeded"
)

// Options tune a Controller.
type Options struct {
	// Root holds a folder per node, <Root>/<node>; the volumes are made
	// in <Root>/<node>/local-path. Absolute; empty disables the
	// provisioner (Run only waits).
	Root string
	// Name is the provisioner's name (default Provisioner).
	Name string
}

// Controller provisions and deletes local-path volumes.
type Controller struct {
	client   kubernetes.Interface
	log      *slog.Logger
	recorder events.EventRecorder
	opts     Options
	claims   corelisters.PersistentVolumeClaimLister
	volumes  corelisters.PersistentVolumeLister
	classes  storagelisters.StorageClassLister
	synced   []cache.InformerSynced
	queue    loop.Queue
}

// New registers claim, volume and class informers in d.Factory.
func New(d deps.Deps, opts Options) (*Controller, error) {
	d = d.Defaults()
	if opts.Root != "" && !filepath.IsAbs(opts.Root) {
		return nil, fmt.Errorf("localpath: root %q is not an absolute path", opts.Root)
	}
	if opts.Name == "" {
		opts.Name = Provisioner
	}
	f := d.Factory
	claims, volumes, classes := f.Core().V1().PersistentVolumeClaims(), f.Core().V1().PersistentVolumes(), f.Storage().V1().StorageClasses()
	c := &Controller{client: d.Client, log: d.Log, recorder: d.Recorder, opts: opts,
		claims: claims.Lister(), volumes: volumes.Lister(), classes: classes.Lister(),
		queue: loop.NewQueue("localpath")}
	for _, h := range []struct {
		inf    cache.SharedIndexInformer
		prefix string
	}{{claims.Informer(), claimKeyPrefix}, {volumes.Informer(), volumeKeyPrefix}} {
		prefix := h.prefix
		add := func(obj any) {
			if key, err := cache.MetaNamespaceKeyFunc(loop.Unwrap(obj)); err == nil {
				c.queue.Add(prefix + key)
			}
		}
		if _, err := h.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: add, UpdateFunc: func(_, obj any) { add(obj) },
		}); err != nil {
			return nil, fmt.Errorf("localpath: add event handler: %w", err)
		}
		c.synced = append(c.synced, h.inf.HasSynced)
	}
	c.synced = append(c.synced, classes.Informer().HasSynced)
	return c, nil
}

// Run provisions and deletes with workers goroutines until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	if c.opts.Root == "" {
		c.log.Warn("no root folder for local-path volumes: provisioner disabled")
		<-ctx.Done()
		return
	}
	c.log.Info("starting", "provisioner", c.opts.Name, "root", c.opts.Root)
	loop.Run(ctx, c.log, c.queue, workers, c.sync, c.synced...)
}

func (c *Controller) sync(ctx context.Context, key string) error {
	if k, ok := strings.CutPrefix(key, claimKeyPrefix); ok {
		return c.syncClaim(ctx, k)
	}
	if k, ok := strings.CutPrefix(key, volumeKeyPrefix); ok {
		return c.syncVolume(ctx, k)
	}
	return nil
}

// Dir is the folder of the volume named pv on node.
func (c *Controller) Dir(node, pv string) string {
	return filepath.Join(c.opts.Root, node, folderName, pv)
}

// syncClaim provisions a volume for the claim with key if it waits for one
// from this provisioner on a node.
func (c *Controller) syncClaim(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	claim, err := c.claims.PersistentVolumeClaims(ns).Get(name)
	if apierrors.IsNotFound(err) || (err == nil && !c.wants(claim)) {
		return nil
	}
	if err != nil {
		return err
	}
	pvName := "pvc-" + string(claim.UID)
	if _, err := c.volumes.Get(pvName); err == nil {
		return nil // provisioned; the binder binds it
	}
	class, err := c.classes.Get(*claim.Spec.StorageClassName)
	if err != nil {
		return fmt.Errorf("storage class of claim %s: %w", key, err)
	}
	pv, err := c.volumeFor(claim, class, pvName)
	if err != nil {
		c.recorder.Eventf(claim, nil, v1.EventTypeWarning, reasonProvisionFailed, "Provision", "%v", err)
		return nil // only a change of the claim can help
	}
	if err := makeDir(pv.Spec.HostPath.Path); err != nil {
		return err
	}
	if _, err := c.client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create volume %s for claim %s: %w", pvName, key, err)
	}
	c.log.Info("provisioned", "claim", key, "volume", pvName, "path", pv.Spec.HostPath.Path)
	c.recorder.Eventf(claim, nil, v1.EventTypeNormal, reasonProvisionSucceed, "Provision",
		"Successfully provisioned volume %s", pvName)
	return nil
}

// wants says whether claim waits for this provisioner and has a node.
func (c *Controller) wants(claim *v1.PersistentVolumeClaim) bool {
	ann := claim.Annotations
	p := ann[AnnStorageProvisioner]
	if p == "" {
		p = ann[annBetaProvisioner]
	}
	return p == c.opts.Name && claim.Spec.VolumeName == "" && claim.Status.Phase == v1.ClaimPending &&
		claim.DeletionTimestamp == nil && claim.Spec.StorageClassName != nil && ann[AnnSelectedNode] != ""
}

// makeDir makes a volume's folder, writable by any user.
func makeDir(dir string) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return fmt.Errorf("make volume folder: %w", err)
	}
	if err := os.Chmod(dir, 0o777); err != nil { // past the umask
		return fmt.Errorf("make volume folder: %w", err)
	}
	return nil
}

// syncVolume removes a released volume this provisioner made, folder first.
func (c *Controller) syncVolume(ctx context.Context, name string) error {
	pv, err := c.volumes.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if pv.Annotations[AnnProvisionedBy] != c.opts.Name || pv.Status.Phase != v1.VolumeReleased ||
		pv.Spec.PersistentVolumeReclaimPolicy != v1.PersistentVolumeReclaimDelete || pv.DeletionTimestamp != nil {
		return nil
	}
	if err := c.removeDir(pv); err != nil {
		return err
	}
	uid := pv.UID
	err = c.client.CoreV1().PersistentVolumes().Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete released volume %s: %w", name, err)
	}
	c.log.Info("deleted released volume", "volume", name)
	return nil
}

// removeDir removes the folder of pv, which must be one of this
// provisioner's: a PV edited to point elsewhere is never removed.
func (c *Controller) removeDir(pv *v1.PersistentVolume) error {
	if pv.Spec.HostPath == nil {
		return fmt.Errorf("volume %s has no hostPath", pv.Name)
	}
	dir := filepath.Clean(pv.Spec.HostPath.Path)
	if rel, err := filepath.Rel(c.opts.Root, dir); err != nil || filepath.Base(dir) != pv.Name ||
		filepath.Base(filepath.Dir(dir)) != folderName || strings.Count(rel, string(filepath.Separator)) != 2 {
		return fmt.Errorf("volume %s: folder %s is not one of %s: left alone", pv.Name, dir, c.opts.Root)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove folder of volume %s: %w", pv.Name, err)
	}
	return nil
}

// volumeFor is the PV for claim on its selected node, or why there is
// none.
func (c *Controller) volumeFor(claim *v1.PersistentVolumeClaim, class *storagev1.StorageClass, name string) (*v1.PersistentVolume, error) {
	if err := supported(claim, class); err != nil {
		return nil, err
	}
	node := claim.Annotations[AnnSelectedNode]
	policy := v1.PersistentVolumeReclaimDelete
	if class.ReclaimPolicy != nil {
		policy = *class.ReclaimPolicy
	}
	dirOrCreate := v1.HostPathDirectoryOrCreate
	return &v1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{AnnProvisionedBy: c.opts.Name}},
		Spec: v1.PersistentVolumeSpec{
			Capacity:                      v1.ResourceList{v1.ResourceStorage: claim.Spec.Resources.Requests[v1.ResourceStorage]},
			AccessModes:                   claim.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: policy,
			StorageClassName:              class.Name,
			VolumeMode:                    claim.Spec.VolumeMode,
			MountOptions:                  class.MountOptions,
			ClaimRef: &v1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: claim.Namespace, Name: claim.Name, UID: claim.UID, ResourceVersion: claim.ResourceVersion},
			PersistentVolumeSource: v1.PersistentVolumeSource{HostPath: &v1.HostPathVolumeSource{Path: c.Dir(node, name), Type: &dirOrCreate}},
			NodeAffinity: &v1.VolumeNodeAffinity{Required: &v1.NodeSelector{NodeSelectorTerms: []v1.NodeSelectorTerm{{
				MatchExpressions: []v1.NodeSelectorRequirement{{Key: hostnameLabel, Operator: v1.NodeSelectorOpIn, Values: []string{node}}},
			}}}},
		},
	}, nil
}

// supported says why a folder on one node cannot serve claim, if it
// cannot.
func supported(claim *v1.PersistentVolumeClaim, class *storagev1.StorageClass) error {
	var errs []error
	if class.VolumeBindingMode == nil || *class.VolumeBindingMode != storagev1.VolumeBindingWaitForFirstConsumer {
		errs = append(errs, fmt.Errorf("storage class %q must have volumeBindingMode WaitForFirstConsumer: a local-path volume needs the pod's node", class.Name))
	}
	for _, m := range claim.Spec.AccessModes {
		if m != v1.ReadWriteOnce && m != v1.ReadWriteOncePod {
			errs = append(errs, fmt.Errorf("access mode %s is not supported: a local-path volume is on one node (ReadWriteOnce, ReadWriteOncePod)", m))
		}
	}
	if claim.Spec.VolumeMode != nil && *claim.Spec.VolumeMode == v1.PersistentVolumeBlock {
		errs = append(errs, errors.New("volume mode Block is not supported: a local-path volume is a folder"))
	}
	if claim.Spec.Selector != nil {
		errs = append(errs, errors.New("claim selector is not supported"))
	}
	if _, ok := claim.Spec.Resources.Requests[v1.ResourceStorage]; !ok {
		errs = append(errs, errors.New("the claim requests no storage"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cannot provision a local-path volume for claim %s/%s: %w", claim.Namespace, claim.Name, err)
	}
	return nil
}
