package harness

import "testing"

func TestParsePodHost(t *testing.T) {
	for _, tc := range []struct {
		host          string
		ns, name      string
		isPod, hasErr bool
	}{
		{host: "node-1"},
		{host: "client"},
		{host: "pod/web", ns: "default", name: "web", isPod: true},
		{host: "pod/shop/web-0", ns: "shop", name: "web-0", isPod: true},
		{host: "pod/", isPod: true, hasErr: true},
		{host: "pod/shop/", isPod: true, hasErr: true},
		{host: "pod//web", isPod: true, hasErr: true},
		{host: "pod/a/b/c", isPod: true, hasErr: true},
	} {
		ns, name, isPod, err := parsePodHost(tc.host)
		if ns != tc.ns || name != tc.name || isPod != tc.isPod || (err != nil) != tc.hasErr {
			t.Errorf("parsePodHost(%q) = %q, %q, %v, %v", tc.host, ns, name, isPod, err)
		}
	}
}
