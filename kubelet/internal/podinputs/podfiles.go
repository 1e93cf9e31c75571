package podinputs

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"

	"github.com/kinns/kinns/kubelet/runtime"
)

// WritePodFiles writes the pod's /etc/hosts, /etc/resolv.conf and
// /etc/hostname, which every container of the pod mounts.
func (in *Inputs) WritePodFiles(pod *v1.Pod, sb Sandbox) error {
	if err := os.MkdirAll(sb.Dir, 0o755); err != nil {
		return fmt.Errorf("create pod folder: %w", err)
	}
	var nodeHosts []byte
	if pod.Spec.HostNetwork {
		var err error
		if nodeHosts, err = os.ReadFile(nodeHostsPath); err != nil {
			return fmt.Errorf("read the node's hosts file: %w", err)
		}
	}
	for name, content := range map[string]string{
		"hosts":       hostsFile(pod, sb.IP, in.cfg.ClusterDomain, nodeHosts),
		"resolv.conf": in.resolvConf(pod),
		"hostname":    podHostname(pod) + "\n",
	} {
		if err := writeFileAtomic(filepath.Join(sb.Dir, name), []byte(content)); err != nil {
			return err
		}
	}
	return nil
}

// podFileMounts mounts the pod's files into a container, except where the
// container mounts a volume of its own (upstream leaves /etc/hosts to such
// a mount).
func podFileMounts(sb Sandbox, c *v1.Container) []runtime.Mount {
	var ms []runtime.Mount
	for _, name := range []string{"hosts", "resolv.conf", "hostname"} {
		path := "/etc/" + name
		if !slices.ContainsFunc(c.VolumeMounts, func(m v1.VolumeMount) bool { return filepath.Clean(m.MountPath) == path }) {
			ms = append(ms, runtime.Mount{HostPath: filepath.Join(sb.Dir, name), ContainerPath: path})
		}
	}
	return ms
}

// podHostname is spec.hostname, else the pod's name, cut to a DNS label.
func podHostname(pod *v1.Pod) string {
	h := pod.Spec.Hostname
	if h == "" {
		h = pod.Name
	}
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-.")
	}
	return h
}

// nodeHostsPath is the node's hosts file: nodes are network namespaces of
// one host, so the host's.
const nodeHostsPath = "/etc/hosts"

// The first line of the hosts file the kubelet writes, as upstream's (the
// conformance suite tells a kubelet-managed /etc/hosts by it): a pod's own,
// or the node's file for a hostNetwork pod.
const (
	managedHostsHeader            = "# Kubernetes-managed hosts file.\n"
	managedHostsHeaderHostNetwork = "# Kubernetes-managed hosts file (host network).\n"
)

// hostsFile is a pod's /etc/hosts as upstream's kubelet writes it: the
// localhost and IPv6 lines, the pod's IP with its hostname (and its FQDN
// under a subdomain), then hostAliases; for a hostNetwork pod, the node's
// hosts file (nodeHosts) and hostAliases.
func hostsFile(pod *v1.Pod, ip, domain string, nodeHosts []byte) string {
	var b strings.Builder
	if pod.Spec.HostNetwork {
		b.WriteString(managedHostsHeaderHostNetwork)
		b.Write(nodeHosts)
		writeHostAliases(&b, pod.Spec.HostAliases)
		return b.String()
	}
	b.WriteString(managedHostsHeader)
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
	host := podHostname(pod)
	switch {
	case ip == "":
	case pod.Spec.Subdomain != "":
		fqdn := fmt.Sprintf("%s.%s.%s.svc.%s", host, pod.Spec.Subdomain, pod.Namespace, domain)
		fmt.Fprintf(&b, "%s\t%s\t%s\n", ip, fqdn, host)
	default:
		fmt.Fprintf(&b, "%s\t%s\n", ip, host)
	}
	writeHostAliases(&b, pod.Spec.HostAliases)
	return b.String()
}

// writeHostAliases adds hostAliases after a blank line and a comment, one
// line per IP, as upstream.
func writeHostAliases(b *strings.Builder, aliases []v1.HostAlias) {
	if len(aliases) == 0 {
		return
	}
	b.WriteString("\n# Entries added by HostAliases.\n")
	for _, a := range aliases {
		fmt.Fprintf(b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
	}
}

// resolvConf follows the pod's dnsPolicy: ClusterFirst uses the cluster's
// nameservers (the node's when none are configured, as upstream falls back),
// Default the node's, None only the pod's dnsConfig.
func (in *Inputs) resolvConf(pod *v1.Pod) string {
	var servers, search, options []string
	policy := pod.Spec.DNSPolicy
	cluster := policy == v1.DNSClusterFirstWithHostNet || (policy != v1.DNSDefault && policy != v1.DNSNone && !pod.Spec.HostNetwork)
	switch {
	case policy == v1.DNSNone:
	case cluster && len(in.cfg.ClusterDNS) > 0:
		servers = in.cfg.ClusterDNS
		d := in.cfg.ClusterDomain
		search = []string{pod.Namespace + ".svc." + d, "svc." + d, d}
		options = []string{"ndots:5"}
	default:
		servers, search, options = hostResolv()
	}
	if c := pod.Spec.DNSConfig; c != nil {
		servers = append(servers, c.Nameservers...)
		search = append(search, c.Searches...)
		for _, o := range c.Options {
			if o.Value != nil {
				options = append(options, o.Name+":"+*o.Value)
			} else {
				options = append(options, o.Name)
			}
		}
	}
	var b strings.Builder
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	return b.String()
}

// hostResolv reads the node's (the host's) /etc/resolv.conf.
func hostResolv() (servers, search, options []string) {
	b, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return nil, nil, nil
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "nameserver":
			servers = append(servers, f[1])
		case "search":
			search = f[1:]
		case "options":
			options = append(options, f[1:]...)
		}
	}
	return servers, search, options
}
