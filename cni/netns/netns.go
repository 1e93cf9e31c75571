package netns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/vishvananda/netlink"
	vns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Dir is where named network namespaces are bind-mounted, as iproute2 does.
const Dir = "/run/netns"

// Path is the file of the named namespace.
func Path(name string) string { return filepath.Join(Dir, name) }

// Exists reports whether the named namespace is mounted.
func Exists(name string) bool { return isNetnsMount(Path(name)) }

// Create makes a persistent network namespace called name. It is idempotent: an
// existing namespace of that name is kept.
func Create(name string) error {
	if err := ensureDir(); err != nil {
		return err
	}
	p := Path(name)
	if isNetnsMount(p) {
		return nil
	}
	f, err := os.OpenFile(p, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create netns file %s: %w", p, err)
	}
	if f != nil {
		f.Close()
	}
	errc := make(chan error, 1)
	go func() { errc <- unshareAndMount(p) }()
	if err := <-errc; err != nil {
		os.Remove(p)
		return fmt.Errorf("create netns %s: %w", name, err)
	}
	return nil
}

// unshareAndMount runs on a goroutine of its own: it locks the thread, gives it a
// new network namespace, pins that namespace on p, then switches back.
func unshareAndMount(p string) error {
	runtime.LockOSThread()
	orig, err := vns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("get current netns: %w", err)
	}
	defer orig.Close()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("unshare: %w", err)
	}
	src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
	mountErr := unix.Mount(src, p, "none", unix.MS_BIND, "")
	if err := vns.Set(orig); err != nil {
		// Leave the thread locked: it dies with this goroutine.
		return fmt.Errorf("switch back to original netns: %w", err)
	}
	runtime.UnlockOSThread()
	if mountErr != nil {
		return fmt.Errorf("bind mount %s on %s: %w", src, p, mountErr)
	}
	return nil
}

// Delete unmounts and removes the named namespace. A missing one is success. The
// namespace itself disappears once no process and no open handle uses it.
func Delete(name string) error {
	p := Path(name)
	if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount netns %s: %w", p, err)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove netns file %s: %w", p, err)
	}
	return nil
}

// List returns the names of all namespaces mounted in Dir.
func List() ([]string, error) {
	ents, err := os.ReadDir(Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", Dir, err)
	}
	var names []string
	for _, e := range ents {
		if isNetnsMount(Path(e.Name())) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// Do runs fn on an OS thread locked inside the namespace at path. fn must not start
// goroutines that expect to be in that namespace: they are not.
func Do(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() { errc <- doLocked(path, fn) }()
	return <-errc
}

func doLocked(path string, fn func() error) error {
	target, err := vns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("open netns %s: %w", path, err)
	}
	defer target.Close()
	return doInLocked(target, path, fn)
}

// DoIn is Do for a namespace held open as ns (an nsfs file, such as one
// inherited from a parent process); ns stays open.
func DoIn(ns *os.File, fn func() error) error {
	errc := make(chan error, 1)
	go func() { errc <- doInLocked(vns.NsHandle(ns.Fd()), ns.Name(), fn) }()
	return <-errc
}

// doInLocked locks the calling goroutine's thread, runs fn inside target and
// switches back; name is for errors.
func doInLocked(target vns.NsHandle, name string, fn func() error) error {
	runtime.LockOSThread()
	orig, err := vns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("get current netns: %w", err)
	}
	defer orig.Close()
	if err := vns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter netns %s: %w", name, err)
	}
	fnErr := fn()
	if err := vns.Set(orig); err != nil {
		return fmt.Errorf("switch back from netns %s: %w", name, err)
	}
	runtime.UnlockOSThread()
	return fnErr
}

// Start starts cmd so that its process, and every thread it will ever have, lives in
// the namespace at path: the fork happens on a thread that is inside it.
func Start(path string, cmd *exec.Cmd) error {
	return Do(path, cmd.Start)
}

// Handle opens a netlink handle whose requests act inside the namespace at path.
// The caller closes it.
func Handle(path string) (*netlink.Handle, error) {
	ns, err := vns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("open netns %s: %w", path, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink handle in %s: %w", path, err)
	}
	return h, nil
}

// Sysctl writes value to /proc/sys/<key> (key with slashes, e.g.
// "net/ipv4/ip_forward") inside the namespace at path. Network sysctls are per
// namespace: the file is opened on a thread inside it.
func Sysctl(path, key, value string) error {
	return Do(path, func() error {
		return os.WriteFile(filepath.Join("/proc/sys", key), []byte(value), 0o644)
	})
}

// ensureDir prepares Dir the way iproute2 does: a shared mount point, so that
// namespaces mounted later are visible in every mount namespace.
func ensureDir() error {
	if err := os.MkdirAll(Dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", Dir, err)
	}
	err := unix.Mount("", Dir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("make %s shared: %w", Dir, err)
	}
	// Not a mount point yet: bind it onto itself, then share it.
	if err := unix.Mount(Dir, Dir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", Dir, err)
	}
	if err := unix.Mount("", Dir, "none", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make %s shared: %w", Dir, err)
	}
	return nil
}

// isNetnsMount reports whether p is a nsfs mount, i.e. a pinned namespace.
func isNetnsMount(p string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return false
	}
	return st.Type == unix.NSFS_MAGIC
}

// DialContext opens a connection from inside the namespace at path: the socket is
// created on a thread inside it, and a socket keeps its namespace for life. Use it
// as a client's dialer to reach a lab's addresses from the host without routes.
func DialContext(path string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := Do(path, func() error {
			var err error
			c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
}
