package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAdmitDeniesByLabelAndAllowsTheRest(t *testing.T) {
	rules := webhookRules{DenyLabel: "webhook=deny"}
	for _, tt := range []struct {
		name    string
		req     admissionRequest
		allowed bool
	}{
		{"labelled", admissionRequest{UID: "1", Operation: "CREATE", Object: json.RawMessage(`{"metadata":{"name":"a","labels":{"webhook":"deny"}}}`)}, false},
		{"other value", admissionRequest{UID: "2", Operation: "CREATE", Object: json.RawMessage(`{"metadata":{"name":"a","labels":{"webhook":"allow"}}}`)}, true},
		{"no labels", admissionRequest{UID: "3", Operation: "UPDATE", Object: json.RawMessage(`{"metadata":{"name":"a"}}`)}, true},
		{"delete reads the old object", admissionRequest{UID: "4", Operation: "DELETE", Object: json.RawMessage(`null`), OldObject: json.RawMessage(`{"metadata":{"name":"a","labels":{"webhook":"deny"}}}`)}, false},
	} {
		resp, err := admit(tt.req, rules)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if resp.UID != tt.req.UID || resp.Allowed != tt.allowed || resp.Patch != nil {
			t.Errorf("%s: %+v, want allowed %v", tt.name, resp, tt.allowed)
		}
		if !tt.allowed && (resp.Result == nil || resp.Result.Code != 403 || !strings.Contains(resp.Result.Message, "webhook=deny")) {
			t.Errorf("%s: denial status %+v", tt.name, resp.Result)
		}
	}
}

func TestAdmitDeniesByLabelKeyAlone(t *testing.T) {
	resp, err := admit(admissionRequest{Operation: "CREATE", Object: json.RawMessage(`{"metadata":{"labels":{"webhook":"x"}}}`)}, webhookRules{DenyLabel: "webhook"})
	if err != nil || resp.Allowed {
		t.Errorf("a key-only rule let through an object with the key: %+v %v", resp, err)
	}
}

func TestAdmitPatchesTheLabelIn(t *testing.T) {
	rules := webhookRules{AddLabel: "example.com/mutated=yes"}
	for obj, want := range map[string]string{
		`{"metadata":{"name":"a"}}`:                    `[{"op":"add","path":"/metadata/labels","value":{"example.com/mutated":"yes"}}]`,
		`{"metadata":{"name":"a","labels":{"x":"y"}}}`: `[{"op":"add","path":"/metadata/labels/example.com~1mutated","value":"yes"}]`,
	} {
		resp, err := admit(admissionRequest{Operation: "CREATE", Object: json.RawMessage(obj)}, rules)
		if err != nil || !resp.Allowed || resp.PatchType != "JSONPatch" || string(resp.Patch) != want {
			t.Errorf("%s: %+v %v: patch %s, want %s", obj, resp, err, resp.Patch, want)
		}
	}
	resp, _ := admit(admissionRequest{Operation: "DELETE", OldObject: json.RawMessage(`{"metadata":{}}`)}, rules)
	if resp.Patch != nil {
		t.Errorf("a DELETE was patched: %s", resp.Patch)
	}
}

func TestAdmitRejectsAnObjectItCannotRead(t *testing.T) {
	if _, err := admit(admissionRequest{Operation: "CREATE", Object: json.RawMessage(`{"metadata":[]}`)}, webhookRules{}); err == nil {
		t.Error("a malformed object was admitted")
	}
}

func TestConvertSetsTheVersionAndRecordsTheOldOne(t *testing.T) {
	resp := convert(conversionRequest{UID: "u", DesiredAPIVersion: "kinns.io/v2", Objects: []json.RawMessage{
		json.RawMessage(`{"apiVersion":"kinns.io/v1","kind":"Widget","metadata":{"name":"a","annotations":{"k":"v"}},"spec":{"size":3}}`),
		json.RawMessage(`{"apiVersion":"kinns.io/v1","kind":"Widget","metadata":{"name":"b"}}`),
	}})
	if resp.UID != "u" || resp.Result.Status != "Success" || len(resp.ConvertedObjects) != 2 {
		t.Fatalf("%+v", resp)
	}
	got, _ := json.Marshal(resp.ConvertedObjects[0])
	want := `{"apiVersion":"kinns.io/v2","kind":"Widget","metadata":{"annotations":{"k":"v","testapp.kinns.io/converted-from":"kinns.io/v1"},"name":"a"},"spec":{"size":3}}`
	if string(got) != want {
		t.Errorf("converted %s, want %s", got, want)
	}
	if bad := convert(conversionRequest{Objects: []json.RawMessage{json.RawMessage(`[]`)}}); bad.Result.Status != "Failure" {
		t.Errorf("a non-object converted: %+v", bad)
	}
}
