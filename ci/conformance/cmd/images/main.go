// Command images builds the container images that the conformance suite
// runs, from sources and this machine's files, into one docker-save
// archive for `lab load`. Each image has the exact name and tag the
// suite's test/utils/image asks for, so no pod pulls from a registry.
//
//	images -agnhost bin/agnhost -nnp bin/nnp -sources $(go list -m -f '{{.Dir}}' k8s.io/kubernetes) -o images.tar
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	in := Inputs{}
	var tools, out string
	flag.StringVar(&in.Busybox, "busybox", "/bin/busybox", "a static busybox (Debian's busybox-static)")
	flag.StringVar(&in.UpstreamBusybox, "upstream-busybox", "", "a static busybox built from upstream's source, for the busybox image")
	flag.StringVar(&tools, "tools", "/usr/bin/curl,/usr/bin/nc,/usr/bin/dig,/usr/bin/nslookup,/usr/bin/getent,/usr/bin/ss,/usr/sbin/ip,/usr/bin/bash,/usr/bin/socat",
		"comma-separated executables of this machine for agnhost's image, copied with their libraries")
	flag.StringVar(&in.Agnhost, "agnhost", "", "agnhost, built from k8s.io/kubernetes/test/images/agnhost")
	flag.StringVar(&in.NNP, "nnp", "", "nnp, built from k8s.io/kubernetes/test/images/nonewprivs")
	flag.StringVar(&in.SampleAPIServer, "sample-apiserver", "", "k8s.io/sample-apiserver, for the Aggregator test (optional)")
	flag.StringVar(&in.Etcd, "etcd", "", "etcd, built from ./cmd/etcd, for the Aggregator test (optional)")
	flag.StringVar(&in.Sources, "sources", "", "the k8s.io/kubernetes module's directory")
	flag.StringVar(&out, "o", "images.tar", "the archive to write")
	flag.Parse()
	in.Tools = splitList(tools)
	if err := run(in, out); err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
}

func run(in Inputs, out string) error {
	imgs, err := build(machine{}, in)
	if err != nil {
		return err
	}
	tmp := out + ".tmp"
	if err := tarball.MultiRefWriteToFile(tmp, imgs); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return err
	}
	var names []string
	for ref := range imgs {
		names = append(names, ref.Name())
	}
	sort.Strings(names)
	fmt.Printf("%s: %s\n", out, strings.Join(names, " "))
	return nil
}

// machine is the host of this process.
type machine struct{}

func (machine) ReadFile(p string) ([]byte, error) { return os.ReadFile(p) }

func (machine) Libraries(executable string) ([]string, error) {
	out, err := exec.Command("ldd", executable).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "not a dynamic executable") {
		return nil, fmt.Errorf("ldd %s: %w: %s", executable, err, out)
	}
	return parseLDD(string(out))
}

func (machine) Applets(busybox string) ([]string, error) {
	out, err := exec.Command(busybox, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list-full: %w", busybox, err)
	}
	return strings.Fields(string(out)), nil
}
