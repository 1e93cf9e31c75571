package apiserver

import (
	"encoding/json"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
)

// The request bodies and patches below are served by upstream code (the
// kube-apiserver is imported whole). These targets check, on the codecs and
// patch functions the API server is built with here, that no body or patch
// makes them panic, and that what decodes survives a round trip: a decoded
// object, encoded and decoded again, is the same object.

var decodeSeeds = []string{
	`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"app":"web"}},"spec":{"containers":[{"name":"app","image":"kinns.local/testapp:latest","resources":{"requests":{"cpu":"100m","memory":"64Mi"}}}]}}`,
	`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","generateName":"x-"},"data":{"k":"v"}}`,
	`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"replicas":3,"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}`,
	`{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"ports":[{"port":80,"targetPort":"http"}],"selector":{"app":"web"}}}`,
	"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n",
	`{"apiVersion":"v1","kind":"Pod","metadata":{"name":1}}`,
	`{"kind":"Pod"}`,
	`{`,
	``,
}

func FuzzDecodeRequestBody(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	decoder := legacyscheme.Codecs.UniversalDeserializer()
	f.Fuzz(func(t *testing.T, body []byte) {
		obj, gvk, err := decoder.Decode(body, nil, nil)
		if err != nil {
			return
		}
		if _, ok := obj.(*runtime.Unknown); ok {
			return
		}
		b, err := json.Marshal(obj)
		if err != nil {
			t.Fatalf("decoded %s does not encode: %v", gvk, err)
		}
		into, err := legacyscheme.Scheme.New(*gvk)
		if err != nil {
			return
		}
		if err := json.Unmarshal(b, into); err != nil {
			t.Fatalf("%s encoded as %s does not decode: %v", gvk, b, err)
		}
		into.GetObjectKind().SetGroupVersionKind(*gvk)
		obj.GetObjectKind().SetGroupVersionKind(*gvk)
		if !equality.Semantic.DeepEqual(obj, into) {
			t.Fatalf("%s changed in a round trip:\n%#v\n%#v", gvk, obj, into)
		}
	})
}

var podJSON = `{"metadata":{"name":"web","labels":{"app":"web"}},"spec":{"containers":[{"name":"app","image":"a:1","ports":[{"containerPort":80}]},{"name":"side","image":"s:1"}]}}`

func FuzzPatch(f *testing.F) {
	for _, seed := range []struct {
		original, patch string
		kind            uint8
	}{
		{podJSON, `[{"op":"replace","path":"/spec/containers/0/image","value":"a:2"}]`, 0},
		{podJSON, `[{"op":"remove","path":"/metadata/labels/app"},{"op":"test","path":"/metadata/name","value":"web"}]`, 0},
		{podJSON, `[{"op":"move","from":"/spec","path":"/spec/x"}]`, 0},
		{podJSON, `{"metadata":{"labels":{"app":null,"tier":"front"}}}`, 1},
		{podJSON, `{"spec":{"containers":[{"name":"app","image":"a:3"}]}}`, 2},
		{podJSON, `{"spec":{"containers":[{"$patch":"delete","name":"side"}]}}`, 2},
		{podJSON, `{"spec":{"$setElementOrder/containers":[{"name":"side"},{"name":"app"}]}}`, 2},
		{podJSON, `{"spec":{"containers":[{"name":"app","ports":[{"$patch":"replace"}]}]}}`, 2},
		{`{}`, `[{"op":"add","path":"/a/b/c","value":1}]`, 0},
	} {
		f.Add([]byte(seed.original), []byte(seed.patch), seed.kind)
	}
	f.Fuzz(func(t *testing.T, original, patch []byte, kind uint8) {
		var out []byte
		var err error
		switch kind % 3 {
		case 0: // application/json-patch+json
			var p jsonpatch.Patch
			if p, err = jsonpatch.DecodePatch(patch); err == nil {
				out, err = p.Apply(original)
			}
		case 1: // application/merge-patch+json
			out, err = jsonpatch.MergePatch(original, patch)
		case 2: // application/strategic-merge-patch+json
			out, err = strategicpatch.StrategicMergePatch(original, patch, &corev1.Pod{})
		}
		if err == nil && !json.Valid(out) {
			t.Fatalf("patch %s of %s gave invalid JSON %q", patch, original, out)
		}
	})
}

// The well-formed seeds must decode, or the round trip above is never
// exercised.
func TestDecodeSeedsDecode(t *testing.T) {
	decoder := legacyscheme.Codecs.UniversalDeserializer()
	for _, s := range decodeSeeds[:5] {
		if _, gvk, err := decoder.Decode([]byte(s), nil, nil); err != nil {
			t.Errorf("seed %.40s…: %v", s, err)
		} else if gvk.Kind == "" {
			t.Errorf("seed %.40s… decoded with no kind", s)
		}
	}
}
