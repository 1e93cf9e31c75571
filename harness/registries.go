package harness

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// registryDir is the lab's certs.d-style registry hosts folder, handed to
// every kubelet: <host>/hosts.toml, as containerd's config_path reads it.
func (l *Lab) registryDir() string { return l.store.Path("registries") }

// writeRegistryConfig writes the hosts.toml files of the lab's registry
// mirrors and insecure registries; it returns the folder, or "" when the
// lab has none. Rewriting the same files is harmless.
func (l *Lab) writeRegistryConfig() (string, error) {
	files, err := RegistryHosts(l.cfg.RegistryMirrors, l.cfg.InsecureRegistries)
	if err != nil || len(files) == 0 {
		return "", err
	}
	dir := l.registryDir()
	for host, body := range files {
		p := filepath.Join(dir, host, "hosts.toml")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", fmt.Errorf("registry config: %w", err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return "", fmt.Errorf("registry config: %w", err)
		}
	}
	return dir, nil
}

// RegistryHosts renders the hosts.toml of each registry that mirrors
// ("REGISTRY=URL", tried in order before the registry itself) or
// insecurity ("HOST[:PORT]": plain HTTP, or HTTPS without verifying its
// certificate) concern, by the registry's folder name. Bad entries are
// errors that say which.
func RegistryHosts(mirrors, insecure []string) (map[string]string, error) {
	unsafe := map[string]bool{}
	for _, h := range insecure {
		if err := checkRegistryHost(h); err != nil {
			return nil, fmt.Errorf("invalid insecure registry %q: %w (want HOST or HOST:PORT)", h, err)
		}
		unsafe[h] = true
	}
	byRegistry := map[string][]string{}
	for _, m := range mirrors {
		reg, u, ok := strings.Cut(m, "=")
		if !ok || checkRegistryHost(reg) != nil {
			return nil, fmt.Errorf("invalid registry mirror %q: want REGISTRY=URL, such as docker.io=http://127.0.0.1:5000", m)
		}
		mu, err := url.Parse(u)
		if err != nil || (mu.Scheme != "http" && mu.Scheme != "https") || mu.Host == "" {
			return nil, fmt.Errorf("invalid registry mirror %q: the mirror must be an http:// or https:// URL", m)
		}
		byRegistry[reg] = append(byRegistry[reg], hostEntry(u, unsafe[mu.Host]))
	}
	for h := range unsafe {
		byRegistry[h] = append(byRegistry[h], hostEntry("http://"+h, true))
	}
	out := map[string]string{}
	for reg, entries := range byRegistry {
		out[reg] = fmt.Sprintf("server = %q\n\n%s", serverOf(reg), strings.Join(entries, "\n"))
	}
	return out, nil
}

// hostEntry is one [host] table: a pull-only endpoint. An insecure one
// with an http:// URL is tried over unverified TLS first, then plain HTTP
// (containerd's fallback).
func hostEntry(u string, insecure bool) string {
	s := fmt.Sprintf("[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n", u)
	if insecure {
		s += "  skip_verify = true\n"
	}
	return s
}

// serverOf is a registry's own endpoint, as containerd defaults it.
func serverOf(reg string) string {
	if reg == "docker.io" {
		return "https://registry-1.docker.io"
	}
	return "https://" + reg
}

func checkRegistryHost(h string) error {
	host := h
	if strings.Contains(h, ":") {
		var port string
		var err error
		if host, port, err = net.SplitHostPort(h); err != nil {
			return err
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("bad port %q", port)
		}
	}
	if host == "" || strings.ContainsAny(host, "/ =") {
		return fmt.Errorf("not a host name")
	}
	return nil
}
