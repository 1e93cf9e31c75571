package harness

import (
	"testing"

	"github.com/kinns/kinns/harness/steps"
	"github.com/kinns/kinns/harness/topology"
)

func TestBringUpIsAWellFormedList(t *testing.T) {
	plan, err := topology.New("t", 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, networkOnly := range []bool{false, true} {
		l := &Lab{cfg: Config{NetworkOnly: networkOnly, APIServers: 3, Progress: func(string) {}}, plan: plan}
		if err := steps.Check(l.steps()); err != nil {
			t.Errorf("NetworkOnly=%v: %v", networkOnly, err)
		}
	}
}

// Every row of the component table runs on at least one host of a lab,
// and names its instances apart.
func TestComponentTableRowsHaveHostsAndNames(t *testing.T) {
	plan, err := topology.New("t", 2)
	if err != nil {
		t.Fatal(err)
	}
	l := &Lab{cfg: Config{APIServers: 3}, plan: plan}
	seen := map[string]string{}
	for _, k := range kinds {
		if k.onDemand {
			continue
		}
		hosts := k.hosts(l)
		if (len(hosts) == 0 && k.name != "apilb") || k.config == nil || k.timeout <= 0 {
			t.Errorf("kind %s: %d hosts, config %v, timeout %s", k.name, len(hosts), k.config != nil, k.timeout)
		}
		for _, h := range hosts {
			name := k.instance(h)
			if other, dup := seen[name]; dup {
				t.Errorf("instance name %q of %s is also one of %s", name, k.name, other)
			}
			seen[name] = k.name
		}
	}
	if seen["kubelet/node-2"] != "kubelet" || seen["etcd-3"] != "etcd" || seen["dns/cp-3"] != "dns" ||
		seen["apiserver"] != "apiserver" || seen["apiserver/cp-3"] != "apiserver" || seen["scheduler/cp-2"] != "scheduler" || seen["apilb"] != "apilb" {
		t.Errorf("instances: %v", seen)
	}
}
