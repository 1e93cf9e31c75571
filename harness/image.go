package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sync/errgroup"

	"github.com/kinns/kinns/harness/images"
	"github.com/kinns/kinns/harness/topology"
)

// testAppBinary finds the testapp binary: Config.TestApp, next to the lab binary,
// or where images.FindTestApp looks.
func (l *Lab) testAppBinary() (string, error) {
	if l.cfg.TestApp != "" {
		return l.cfg.TestApp, nil
	}
	if bin, err := l.labBinary(); err == nil {
		p := filepath.Join(filepath.Dir(bin), "testapp")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return images.FindTestApp()
}

// importTestImage builds (or finds in the cache) the test image and imports it
// into every node's containerd namespace. Without a testapp binary the lab still
// comes up; pods of that image then fail with ErrImagePull, which says why.
func (l *Lab) importTestImage(ctx context.Context) error {
	bin, err := l.testAppBinary()
	if err != nil {
		l.log.Warn("no test image", "err", err)
		l.cfg.Progress("test image: skipped (" + err.Error() + ")")
		return nil
	}
	archive, err := images.BuildArchive(ctx, bin, filepath.Join(l.cfg.StateRoot, "images"))
	if err != nil {
		return err
	}
	l.cfg.Progress("test image: " + images.TestAppImage + " into every node")
	_, err = l.Load(ctx, archive)
	return err
}

// Load imports an OCI or docker-save archive into every node, pins what it
// held against the kubelets' image garbage collection and returns the image
// names. Pinned as upstream's runtime pins the pause image: no registry could
// give a loaded image back (the test image's kinns.local is no registry at
// all), so a node that lost one could not run it again; images pulled from a
// registry are the ones image GC removes.
func (l *Lab) Load(ctx context.Context, archive string) ([]string, error) {
	if _, err := os.Stat(archive); err != nil {
		return nil, fmt.Errorf("image archive: %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	names := make([][]string, len(l.plan.Nodes()))
	for i, n := range l.plan.Nodes() {
		g.Go(func() error {
			ns := topology.ContainerdNamespace(l.Name(), n.Name)
			got, err := images.ImportArchive(gctx, l.containerdAddress, ns, archive)
			if err != nil {
				return fmt.Errorf("import %s into %s: %w", archive, n.Name, err)
			}
			for _, name := range got {
				if err := images.Pin(gctx, l.containerdAddress, ns, name); err != nil {
					return err
				}
			}
			names[i] = got
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return names[0], nil
}
