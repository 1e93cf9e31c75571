package runtime

import "context"

// ImageMounter mounts images' root filesystems read-only on the host, for
// image volumes (KEP-4639): the kubelet bind-mounts the folder into the
// containers that mount the volume. *containerd.Containerd is the real one.
type ImageMounter interface {
	// MountImage mounts a read-only view of the unpacked root filesystem of
	// the stored image ref on target, a folder it makes. The view is named
	// after target, so a target already mounted is success. Errors leave
	// nothing mounted on target (the view may remain until UnmountImage).
	MountImage(ctx context.Context, ref, target string) error
	// UnmountImage unmounts target if it is mounted and removes its view
	// and the folder; what is missing is success.
	UnmountImage(ctx context.Context, target string) error
	// ImageViews lists the targets whose views are held, mounted or not:
	// what a restarted kubelet checks for orphans.
	ImageViews(ctx context.Context) ([]string, error)
}
