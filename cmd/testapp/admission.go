package main

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The wire forms of admission.k8s.io/v1 AdmissionReview and
// apiextensions.k8s.io/v1 ConversionReview, only the fields testapp reads or
// writes: the image holds the standard library alone.
type admissionReview struct {
	APIVersion string             `json:"apiVersion"`
	Kind       string             `json:"kind"`
	Request    *admissionRequest  `json:"request,omitempty"`
	Response   *admissionResponse `json:"response,omitempty"`
}

type admissionRequest struct {
	UID       string          `json:"uid"`
	Operation string          `json:"operation"`
	Object    json.RawMessage `json:"object,omitempty"`
	OldObject json.RawMessage `json:"oldObject,omitempty"`
}

type admissionResponse struct {
	UID       string  `json:"uid"`
	Allowed   bool    `json:"allowed"`
	Result    *status `json:"status,omitempty"`
	PatchType string  `json:"patchType,omitempty"`
	Patch     []byte  `json:"patch,omitempty"` // base64 in JSON, as the API wants
}

// status is a metav1.Status as a webhook reports it.
type status struct {
	Status  string `json:"status,omitempty"`
	Code    int    `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// objectMeta is what admit reads of an object.
type objectMeta struct {
	Metadata struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
}

// webhookRules says what the webhook decides: deny objects that carry
// DenyLabel (KEY=VALUE, or KEY for any value), add AddLabel (KEY=VALUE) to
// those it lets through.
type webhookRules struct {
	DenyLabel, AddLabel string
}

// admit answers one AdmissionRequest by the rules: pure, for the tests.
func admit(req admissionRequest, rules webhookRules) (admissionResponse, error) {
	resp := admissionResponse{UID: req.UID, Allowed: true}
	raw := req.Object
	if len(raw) == 0 || string(raw) == "null" {
		raw = req.OldObject // DELETE carries the old object only
	}
	var obj objectMeta
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &obj); err != nil {
			return admissionResponse{}, fmt.Errorf("decode object: %w", err)
		}
	}
	if k, v, ok := matchLabel(obj.Metadata.Labels, rules.DenyLabel); ok {
		resp.Allowed = false
		resp.Result = &status{Status: "Failure", Code: 403,
			Message: fmt.Sprintf("testapp webhook denies %s %q: it has label %s=%s", strings.ToLower(req.Operation), obj.Metadata.Name, k, v)}
		return resp, nil
	}
	if rules.AddLabel != "" && req.Operation != "DELETE" {
		patch, err := addLabelPatch(obj.Metadata.Labels, rules.AddLabel)
		if err != nil {
			return admissionResponse{}, err
		}
		resp.PatchType, resp.Patch = "JSONPatch", patch
	}
	return resp, nil
}

// matchLabel reports whether labels match rule (KEY=VALUE, or KEY alone).
func matchLabel(labels map[string]string, rule string) (string, string, bool) {
	if rule == "" {
		return "", "", false
	}
	k, want, hasValue := strings.Cut(rule, "=")
	v, ok := labels[k]
	return k, v, ok && (!hasValue || v == want)
}

// addLabelPatch is the JSON patch that sets label KEY=VALUE.
func addLabelPatch(labels map[string]string, label string) ([]byte, error) {
	k, v, _ := strings.Cut(label, "=")
	op := map[string]any{"op": "add", "path": "/metadata/labels/" + escapePointer(k), "value": v}
	if labels == nil {
		op = map[string]any{"op": "add", "path": "/metadata/labels", "value": map[string]string{k: v}}
	}
	return json.Marshal([]any{op})
}

// escapePointer escapes a JSON pointer token (RFC 6901).
func escapePointer(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

type conversionReview struct {
	APIVersion string              `json:"apiVersion"`
	Kind       string              `json:"kind"`
	Request    *conversionRequest  `json:"request,omitempty"`
	Response   *conversionResponse `json:"response,omitempty"`
}

type conversionRequest struct {
	UID               string            `json:"uid"`
	DesiredAPIVersion string            `json:"desiredAPIVersion"`
	Objects           []json.RawMessage `json:"objects"`
}

type conversionResponse struct {
	UID              string           `json:"uid"`
	ConvertedObjects []map[string]any `json:"convertedObjects"`
	Result           status           `json:"result"`
}

// ConvertedFromAnnotation records, on every object convert returns, the
// apiVersion it had, so that a reader can tell the webhook converted it.
const ConvertedFromAnnotation = "testapp.kinns.io/converted-from"

// convert turns every object into DesiredAPIVersion: the versions of the
// custom resources it serves share one schema, so only apiVersion changes
// (and the annotation, which conversion webhooks may set).
func convert(req conversionRequest) conversionResponse {
	resp := conversionResponse{UID: req.UID, Result: status{Status: "Success"}}
	for _, raw := range req.Objects {
		var obj map[string]any
		if err := json.Unmarshal(raw, &obj); err != nil {
			return conversionResponse{UID: req.UID, Result: status{Status: "Failure", Message: "decode object: " + err.Error()}}
		}
		from, _ := obj["apiVersion"].(string)
		meta, _ := obj["metadata"].(map[string]any)
		if meta == nil {
			meta = map[string]any{}
			obj["metadata"] = meta
		}
		ann, _ := meta["annotations"].(map[string]any)
		if ann == nil {
			ann = map[string]any{}
			meta["annotations"] = ann
		}
		ann[ConvertedFromAnnotation] = from
		obj["apiVersion"] = req.DesiredAPIVersion
		resp.ConvertedObjects = append(resp.ConvertedObjects, obj)
	}
	return resp
}
