// Package patch makes the strategic merge patches with which the kubelet
// writes the status of its pods and of its Node: only what changed is sent,
// so a patch never undoes what another writer set in fields it leaves alone.
//
//	p, err := patch.TwoWay(v1.Node{Status: node.Status}, v1.Node{Status: st}, v1.Node{})
package patch

import (
	"encoding/json"

	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// TwoWay is the strategic merge patch that turns from into to, both of the
// type of kind (only the fields set in them count).
func TwoWay(from, to, kind any) ([]byte, error) {
	a, err := json.Marshal(from)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(to)
	if err != nil {
		return nil, err
	}
	return strategicpatch.CreateTwoWayMergePatch(a, b, kind)
}
