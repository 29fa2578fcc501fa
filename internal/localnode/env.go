package localnode

import (
	"context"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// nodeIP is the address of the node and of every pod: processes share the
// host's network.
const nodeIP = "127.0.0.1"

// fieldResolver answers the downward API from the pod and the node.
type fieldResolver struct {
	pod  *corev1.Pod
	node *corev1.Node
}

// field resolves a fieldRef of an env var.
func (r *fieldResolver) field(path string) (string, error) {
	m := r.pod.ObjectMeta
	switch path {
	case "metadata.name":
		return m.Name, nil
	case "metadata.namespace":
		return m.Namespace, nil
	case "metadata.uid":
		return string(m.UID), nil
	case "spec.nodeName":
		return r.pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return r.pod.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.podIP", "status.hostIPs", "status.podIPs":
		return nodeIP, nil
	}
	if k, ok := subscript(path, "metadata.labels"); ok {
		return m.Labels[k], nil
	}
	if k, ok := subscript(path, "metadata.annotations"); ok {
		return m.Annotations[k], nil
	}
	return "", &specError{msg: fmt.Sprintf("fieldRef %q is not supported by the local node", path)}
}

// volumeField also allows all labels or annotations, as a downwardAPI
// volume does.
func (r *fieldResolver) volumeField(path string) (string, error) {
	switch path {
	case "metadata.labels":
		return formatMap(r.pod.Labels), nil
	case "metadata.annotations":
		return formatMap(r.pod.Annotations), nil
	}
	return r.field(path)
}

func subscript(path, prefix string) (string, bool) {
	if !strings.HasPrefix(path, prefix+"['") || !strings.HasSuffix(path, "']") {
		return "", false
	}
	return path[len(prefix)+2 : len(path)-2], true
}

func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s=%q", k, m[k])
	}
	return b.String()
}

// resource answers a resourceFieldRef: the container's own value, or for a
// limit it does not set, the node's capacity, as the kubelet does.
func (r *fieldResolver) resource(ref *corev1.ResourceFieldSelector) (string, error) {
	var c *corev1.Container
	for i := range r.pod.Spec.Containers {
		if r.pod.Spec.Containers[i].Name == ref.ContainerName {
			c = &r.pod.Spec.Containers[i]
		}
	}
	for i := range r.pod.Spec.InitContainers {
		if r.pod.Spec.InitContainers[i].Name == ref.ContainerName {
			c = &r.pod.Spec.InitContainers[i]
		}
	}
	if c == nil {
		return "", &specError{msg: fmt.Sprintf("resourceFieldRef names container %q, which the pod does not have", ref.ContainerName)}
	}
	kind, name, ok := strings.Cut(ref.Resource, ".")
	if !ok || (kind != "limits" && kind != "requests") {
		return "", &specError{msg: fmt.Sprintf("resourceFieldRef resource %q is not supported by the local node", ref.Resource)}
	}
	list := c.Resources.Limits
	if kind == "requests" {
		list = c.Resources.Requests
	}
	q, ok := list[corev1.ResourceName(name)]
	if !ok && r.node != nil {
		q, ok = r.node.Status.Allocatable[corev1.ResourceName(name)]
	}
	if !ok {
		q = resource.Quantity{}
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	// Rounded up, as the kubelet does, so a CPU limit of 500m reads as 1.
	return fmt.Sprint(int64(math.Ceil(float64(q.MilliValue()) / float64(divisor.MilliValue())))), nil
}

// environment builds a container's environment in the kubelet's order:
// envFrom, then env (where $(VAR) refers to what came before), over a base of
// PATH, HOSTNAME, HOME and the KUBERNETES_SERVICE_* variables.
func environment(ctx context.Context, client kubernetes.Interface, r *fieldResolver, c *corev1.Container, base map[string]string) ([]string, map[string]string, error) {
	vars := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vars[k]; !ok {
			order = append(order, k)
		}
		vars[k] = v
	}
	for k, v := range base {
		set(k, v)
	}
	sort.Strings(order)
	ns := r.pod.Namespace
	for _, from := range c.EnvFrom {
		var data map[string]string
		switch {
		case from.ConfigMapRef != nil:
			cm, err := client.CoreV1().ConfigMaps(ns).Get(ctx, from.ConfigMapRef.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) && ptr.Deref(from.ConfigMapRef.Optional, false) {
				continue
			}
			if err != nil {
				return nil, nil, envErr(err, "ConfigMap", ns, from.ConfigMapRef.Name)
			}
			data = cm.Data
		case from.SecretRef != nil:
			s, err := client.CoreV1().Secrets(ns).Get(ctx, from.SecretRef.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) && ptr.Deref(from.SecretRef.Optional, false) {
				continue
			}
			if err != nil {
				return nil, nil, envErr(err, "Secret", ns, from.SecretRef.Name)
			}
			data = map[string]string{}
			for k, v := range s.Data {
				data[k] = string(v)
			}
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			set(from.Prefix+k, data[k])
		}
	}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expand(e.Value, lookup))
			continue
		}
		v, skip, err := envValueFrom(ctx, client, r, e.ValueFrom)
		if err != nil {
			return nil, nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		if !skip {
			set(e.Name, v)
		}
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+vars[k])
	}
	return out, vars, nil
}

func envValueFrom(ctx context.Context, client kubernetes.Interface, r *fieldResolver, src *corev1.EnvVarSource) (value string, skip bool, err error) {
	ns := r.pod.Namespace
	switch {
	case src.FieldRef != nil:
		v, err := r.field(src.FieldRef.FieldPath)
		return v, false, err
	case src.ResourceFieldRef != nil:
		v, err := r.resource(src.ResourceFieldRef)
		return v, false, err
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		cm, err := client.CoreV1().ConfigMaps(ns).Get(ctx, ref.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) && ptr.Deref(ref.Optional, false) {
			return "", true, nil
		}
		if err != nil {
			return "", false, envErr(err, "ConfigMap", ns, ref.Name)
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			if ptr.Deref(ref.Optional, false) {
				return "", true, nil
			}
			return "", false, &waitError{reason: "CreateContainerConfigError", msg: fmt.Sprintf("ConfigMap %s/%s has no key %q", ns, ref.Name, ref.Key)}
		}
		return v, false, nil
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		s, err := client.CoreV1().Secrets(ns).Get(ctx, ref.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) && ptr.Deref(ref.Optional, false) {
			return "", true, nil
		}
		if err != nil {
			return "", false, envErr(err, "Secret", ns, ref.Name)
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			if ptr.Deref(ref.Optional, false) {
				return "", true, nil
			}
			return "", false, &waitError{reason: "CreateContainerConfigError", msg: fmt.Sprintf("Secret %s/%s has no key %q", ns, ref.Name, ref.Key)}
		}
		return string(v), false, nil
	default:
		return "", false, &specError{msg: "an env valueFrom other than fieldRef, resourceFieldRef, configMapKeyRef or secretKeyRef is not supported by the local node"}
	}
}

func envErr(err error, kind, ns, name string) error {
	if apierrors.IsNotFound(err) {
		return &waitError{reason: "CreateContainerConfigError", msg: fmt.Sprintf("%s %s/%s not found", kind, ns, name)}
	}
	return err
}

// hostPATH is the PATH containers get unless they set their own: the host's,
// since their commands are the host's tools.
func hostPATH() string {
	if p := os.Getenv("PATH"); p != "" {
		return p
	}
	return "/usr/local/bin:/usr/bin:/bin"
}
