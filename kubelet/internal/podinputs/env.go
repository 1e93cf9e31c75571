package podinputs

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/kubernetes/pkg/kubelet/envvars"
	"k8s.io/kubernetes/third_party/forked/golang/expansion"
)

// envSource reads the ConfigMaps and Secrets that env and envFrom name; the
// Node authorizer lets a kubelet read those of its own pods.
type envSource interface {
	configMap(ctx context.Context, ns, name string) (map[string]string, error)
	secret(ctx context.Context, ns, name string) (map[string]string, error)
	// serviceEnv is the Docker-links style variables of the services a pod
	// of ns sees: the kubernetes Service always, the others of ns when
	// links is true (spec.enableServiceLinks).
	serviceEnv(ns string, links bool) map[string]string
}

// containerEnv computes a container's environment as the kubelet does:
// envFrom first, then env, each value with $(VAR) expanded against what
// came before and the service variables; $$ escapes a $. Service variables
// (FOO_SERVICE_HOST…) come last, unless the container sets them itself.
func containerEnv(ctx context.Context, src envSource, pod *v1.Pod, c *v1.Container, podIP, hostIP string) ([]string, error) {
	var order []string
	vals := map[string]string{}
	svc := src.serviceEnv(pod.Namespace, pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks)
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
	}
	for _, from := range c.EnvFrom {
		data, err := envFromData(ctx, src, pod.Namespace, from)
		if err != nil {
			return nil, err
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			// Any key, with any prefix: the API server checked the names
			// (printable ASCII but '='), as upstream's kubelet trusts.
			set(from.Prefix+k, data[k])
		}
	}
	for _, e := range c.Env {
		v, ok, err := envValue(ctx, src, pod, c, e, podIP, hostIP, expansion.MappingFuncFor(vals, svc))
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		if ok {
			set(e.Name, v)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(svc)) {
		if _, ok := vals[k]; !ok {
			set(k, svc[k])
		}
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+vals[k])
	}
	return out, nil
}

func envFromData(ctx context.Context, src envSource, ns string, from v1.EnvFromSource) (map[string]string, error) {
	switch {
	case from.ConfigMapRef != nil:
		data, err := src.configMap(ctx, ns, from.ConfigMapRef.Name)
		return sourceData(data, err, from.ConfigMapRef.Optional, "configmap "+from.ConfigMapRef.Name)
	case from.SecretRef != nil:
		data, err := src.secret(ctx, ns, from.SecretRef.Name)
		return sourceData(data, err, from.SecretRef.Optional, "secret "+from.SecretRef.Name)
	}
	return nil, nil
}

// envValue is one env entry's value; ok is false for an optional key
// that is missing, which upstream leaves out of the environment.
func envValue(ctx context.Context, src envSource, pod *v1.Pod, c *v1.Container, e v1.EnvVar, podIP, hostIP string, mapping func(string) string) (v string, ok bool, err error) {
	f := e.ValueFrom
	switch {
	case f == nil:
		return expansion.Expand(e.Value, mapping), true, nil
	case f.FieldRef != nil:
		v, err = podField(pod, f.FieldRef.FieldPath, podIP, hostIP)
	case f.ResourceFieldRef != nil:
		v, err = resourceField(pod, c, f.ResourceFieldRef)
	case f.ConfigMapKeyRef != nil:
		r := f.ConfigMapKeyRef
		data, err := src.configMap(ctx, pod.Namespace, r.Name)
		return keyOf(data, err, r.Key, r.Optional, "ConfigMap "+pod.Namespace+"/"+r.Name)
	case f.SecretKeyRef != nil:
		r := f.SecretKeyRef
		data, err := src.secret(ctx, pod.Namespace, r.Name)
		return keyOf(data, err, r.Key, r.Optional, "Secret "+pod.Namespace+"/"+r.Name)
	}
	return v, err == nil, err
}

func keyOf(data map[string]string, err error, key string, optional *bool, what string) (string, bool, error) {
	opt := optional != nil && *optional
	if err != nil {
		if opt {
			return "", false, nil
		}
		return "", false, err
	}
	v, ok := data[key]
	if !ok && !opt {
		return "", false, fmt.Errorf("couldn't find key %s in %s", key, what)
	}
	return v, ok, nil
}

// podField is the downward API's value of a field path.
func podField(pod *v1.Pod, path, podIP, hostIP string) (string, error) {
	if k, ok := subscript(path, "metadata.labels"); ok {
		return pod.Labels[k], nil
	}
	if k, ok := subscript(path, "metadata.annotations"); ok {
		return pod.Annotations[k], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.hostIPs":
		return hostIP, nil
	case "status.podIP", "status.podIPs":
		return podIP, nil
	}
	return "", fmt.Errorf("unsupported field path %q", path)
}

// subscript parses `prefix['key']`.
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"['")
	if !ok || !strings.HasSuffix(rest, "']") {
		return "", false
	}
	return strings.TrimSuffix(rest, "']"), true
}

// resourceField is limits.cpu, requests.memory… of a container, divided by
// the divisor and rounded up, as the downward API does. A missing limit is
// the node's allocatable in upstream; here, 0 is not useful, so it is the
// request, or 1 unit.
func resourceField(pod *v1.Pod, c *v1.Container, r *v1.ResourceFieldSelector) (string, error) {
	if r.ContainerName != "" && r.ContainerName != c.Name {
		for i := range pod.Spec.Containers {
			if pod.Spec.Containers[i].Name == r.ContainerName {
				c = &pod.Spec.Containers[i]
			}
		}
	}
	kind, name, ok := strings.Cut(r.Resource, ".")
	if !ok {
		return "", fmt.Errorf("unsupported resource %q", r.Resource)
	}
	list := c.Resources.Limits
	if kind == "requests" {
		list = c.Resources.Requests
	}
	q, ok := list[v1.ResourceName(name)]
	if !ok {
		q, ok = c.Resources.Requests[v1.ResourceName(name)]
	}
	if !ok {
		return "1", nil
	}
	div := r.Divisor
	if div.IsZero() {
		div = resource.MustParse("1")
	}
	v := math.Ceil(float64(q.MilliValue()) / float64(div.MilliValue()))
	return fmt.Sprintf("%d", int64(v)), nil
}

// apiEnvSource reads ConfigMaps and Secrets from the API.
type apiEnvSource struct{ in *Inputs }

func (s apiEnvSource) configMap(ctx context.Context, ns, name string) (map[string]string, error) {
	cm, err := s.in.client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, v := range cm.Data {
		out[k] = v
	}
	for k, v := range cm.BinaryData {
		out[k] = string(v)
	}
	return out, nil
}

func (s apiEnvSource) secret(ctx context.Context, ns, name string) (map[string]string, error) {
	sec, err := s.in.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, v := range sec.Data {
		out[k] = string(v)
	}
	for k, v := range sec.StringData {
		out[k] = v
	}
	return out, nil
}

// serviceEnv is built from the kubelet's Service informer, as the kubelet
// does; until it has synced a pod gets none.
func (s apiEnvSource) serviceEnv(ns string, links bool) map[string]string {
	out := map[string]string{}
	if s.in.services == nil {
		return out
	}
	all, err := s.in.services.List(labels.Everything())
	if err != nil {
		return out
	}
	return serviceEnv(all, ns, links)
}

// serviceEnv picks the services a pod of ns sees (the kubernetes Service of
// the default namespace always, those of ns when links) and turns those with
// a cluster IP into variables with the kubelet's own envvars package.
func serviceEnv(all []*v1.Service, ns string, links bool) map[string]string {
	byName := map[string]*v1.Service{}
	for _, svc := range all {
		if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == v1.ClusterIPNone {
			continue
		}
		switch {
		case svc.Namespace == metav1.NamespaceDefault && svc.Name == "kubernetes":
			if _, ok := byName[svc.Name]; !ok {
				byName[svc.Name] = svc
			}
		case svc.Namespace == ns && links:
			byName[svc.Name] = svc
		}
	}
	out := map[string]string{}
	for _, e := range envvars.FromServices(slices.Collect(maps.Values(byName))) {
		out[e.Name] = e.Value
	}
	return out
}
