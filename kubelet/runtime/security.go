package runtime

// Security is how a container's process is confined, as a pod's
// securityContext asks once the kubelet has resolved it (container fields
// over the pod's, runAsNonRoot checked). The zero value runs the image's
// user with the runtime's default capabilities, no seccomp filter and
// privilege escalation allowed, as Kubernetes does by default.
type Security struct {
	// User is an OCI user string: "UID", "UID:GID" or "NAME:GID" (NAME
	// looked up in the image's /etc/passwd). Empty means the image's user.
	User string
	// SupplementalGroups are added to the user's groups (fsGroup among
	// them). With StrictGroups the groups the image's /etc/group gives the
	// user are left out.
	SupplementalGroups []int64
	StrictGroups       bool
	// Privileged: every capability, every host device, /sys writable, no
	// masked paths and no seccomp filter.
	Privileged bool
	// NoNewPrivileges sets no_new_privs (allowPrivilegeEscalation: false).
	NoNewPrivileges bool
	// ReadOnlyRootfs mounts the image's filesystem read-only.
	ReadOnlyRootfs bool
	// CapAdd and CapDrop change the runtime's default capabilities; names
	// are "NET_ADMIN" or "CAP_NET_ADMIN", any case, or "ALL". As in
	// containerd's CRI, ALL applies first (add, then drop), then each named
	// add, then each named drop: drop ALL with add NET_BIND_SERVICE leaves
	// just that one.
	CapAdd, CapDrop []string
	// Seccomp is the syscall filter; SeccompProfile is the JSON profile's
	// file on the node for SeccompLocalhost.
	Seccomp        Seccomp
	SeccompProfile string
	// Sysctls are the pod's namespaced kernel parameters (dotted names),
	// set in the container's namespaces as it starts: IPC ones (kernel.shm*,
	// kernel.msg*, kernel.sem, fs.mqueue.*) in its own IPC namespace, net.*
	// in the pod's network namespace, which its containers share. The
	// kubelet admitted them (safe, or allowed on the node) beforehand.
	Sysctls map[string]string
}

// Seccomp names a kind of syscall filter.
type Seccomp string

const (
	// SeccompUnconfined: no filter (Kubernetes' default without
	// --seccomp-default).
	SeccompUnconfined Seccomp = ""
	// SeccompRuntimeDefault: containerd's default profile.
	SeccompRuntimeDefault Seccomp = "RuntimeDefault"
	// SeccompLocalhost: a profile from a file of the node.
	SeccompLocalhost Seccomp = "Localhost"
)
