package specs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/kinns/kinns/harness"
	"github.com/kinns/kinns/harness/containerd"
	"github.com/kinns/kinns/harness/proc"
)

// Labels, one per concern.
var (
	Topology  = Label("topology")
	CLI       = Label("cli")
	APIServer = Label("apiserver")
	Etcd      = Label("etcd")
)

// labBinary is the `lab` command under test.
var labBinary string

func TestSpecs(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "kinns end-to-end")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	if os.Geteuid() != 0 {
		Fail("the kinns specs need root: they create network namespaces and run containerd")
	}
	labBinary = os.Getenv("KINNS_LAB_BINARY")
	if labBinary == "" {
		var err error
		labBinary, err = gexec.Build("github.com/kinns/kinns/cmd/lab", "-ldflags", "-X k8s.io/component-base/version.gitVersion=v1.37.2")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(gexec.CleanupBuildArtifacts)
	}
	// Hold the shared containerd for the whole suite, so that labs coming and going
	// do not restart it each time.
	self, err := proc.Self()
	Expect(err).NotTo(HaveOccurred())
	d := containerd.NewDaemon(harness.StateRoot(), nil)
	holder := fmt.Sprintf("suite-%d", self.PID)
	_, err = d.Acquire(ctx, holder, self)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx SpecContext) { Expect(d.Release(ctx, holder)).To(Succeed()) })
}, NodeTimeout(60e9))

// labsMade are the names uniqueName handed out, for the leak check.
var labsMade []string

// uniqueName gives each lab of a run its own name, so that nothing a spec sees
// belongs to another.
func uniqueName(prefix string) string {
	b := make([]byte, 3)
	rand.Read(b)
	name := prefix + "-" + hex.EncodeToString(b)
	labsMade = append(labsMade, name)
	return name
}

// Every lab a spec made must be gone, namespaces and state included: a
// leftover is a bug of the teardown, even when each spec passed.
var _ = AfterSuite(func() {
	entries, _ := os.ReadDir("/run/netns")
	var left []string
	for _, name := range labsMade {
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), name+"-") {
				left = append(left, "network namespace "+e.Name())
			}
		}
		if _, err := os.Stat(filepath.Join(harness.StateRoot(), "labs", name)); err == nil {
			left = append(left, "state folder of lab "+name)
		}
	}
	Expect(left).To(BeEmpty(), "left behind by the labs of this run")
})

// failureLogs is where a lab whose bring-up fails leaves its logs, with
// those of labs whose spec failed (see keepLogs).
func failureLogs() string {
	if root := os.Getenv("KINNS_ARTIFACTS"); root != "" {
		return filepath.Join(root, "failed-labs")
	}
	return ""
}

// bootLab brings a lab up in this process and takes it down after the spec.
func bootLab(ctx context.Context, nodes int) *harness.Lab {
	GinkgoHelper()
	return bootLabNamed(ctx, "t", nodes)
}

// bootLabNamed is bootLab for a lab whose name starts with prefix.
func bootLabNamed(ctx context.Context, prefix string, nodes int) *harness.Lab {
	GinkgoHelper()
	// One API server: the specs of everything but high availability run
	// on the fastest labs (ha_test.go boots three).
	lab, err := harness.Up(ctx, harness.Config{Name: uniqueName(prefix), Nodes: nodes, APIServers: 1, LabBinary: labBinary, FailureLogs: failureLogs()})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx SpecContext) { Expect(lab.Down(ctx)).To(Succeed()) })
	DeferCleanup(reportOnFailure, lab) // runs before Down
	DeferCleanup(reportWarnings, lab)  // and this before that
	return lab
}
