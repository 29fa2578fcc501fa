package restore

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// applyBuiltinActions makes the changes an object of the given resource needs
// to be created in another (or an emptied) cluster, and maps the namespaces
// it refers to (namespacerefs.go). The object's metadata has already been
// reset.
func applyBuiltinActions(key string, obj *unstructured.Unstructured, namespaceMapping map[string]string) {
	switch key {
	case podsKey:
		preparePod(obj)
	case jobsKey:
		prepareJob(obj)
	case servicesKey:
		prepareService(obj)
	case pvsKey:
		preparePersistentVolume(obj)
	case pvcsKey:
		preparePersistentVolumeClaim(obj)
	case secretsKey:
		prepareSecret(obj)
	}
	namespaceMapper(namespaceMapping).apply(key, obj)
}

// preparePod lets the scheduler place the pod again and lets the
// ServiceAccount admission plugin mount a token of the new cluster.
func preparePod(obj *unstructured.Unstructured) {
	spec, ok := obj.Object["spec"].(map[string]any)
	if !ok {
		return
	}
	delete(spec, "nodeName")
	// The API refuses ephemeral containers on create; they were debugging
	// aids attached to the old pod anyway.
	delete(spec, "ephemeralContainers")

	serviceAccount, _ := spec["serviceAccountName"].(string)
	if serviceAccount == "" {
		serviceAccount, _ = spec["serviceAccount"].(string)
	}
	if serviceAccount == "" {
		serviceAccount = "default"
	}
	volumes, _ := spec["volumes"].([]any)
	dropped := map[string]bool{}
	kept := make([]any, 0, len(volumes))
	for _, v := range volumes {
		vol, _ := v.(map[string]any)
		if name, ok := vol["name"].(string); ok && isServiceAccountTokenVolume(vol, name, serviceAccount) {
			dropped[name] = true
			continue
		}
		kept = append(kept, v)
	}
	if len(dropped) == 0 {
		return
	}
	if len(kept) == 0 {
		delete(spec, "volumes")
	} else {
		spec["volumes"] = kept
	}
	for _, field := range []string{"containers", "initContainers"} {
		containers, _ := spec[field].([]any)
		for _, c := range containers {
			container, _ := c.(map[string]any)
			dropVolumeMounts(container, dropped)
		}
	}
}

// isServiceAccountTokenVolume recognizes the token volumes the API server
// adds: "kube-api-access-<random>" projected volumes (Kubernetes >= 1.21) and
// legacy "<serviceaccount>-token-<random>" secret volumes. Their tokens and
// secrets belong to the old cluster.
func isServiceAccountTokenVolume(vol map[string]any, name, serviceAccount string) bool {
	if _, projected := vol["projected"]; projected && strings.HasPrefix(name, "kube-api-access-") {
		return true
	}
	secret, _ := vol["secret"].(map[string]any)
	secretName, _ := secret["secretName"].(string)
	return strings.HasPrefix(secretName, serviceAccount+"-token-") || strings.HasPrefix(secretName, "default-token-")
}

func dropVolumeMounts(container map[string]any, dropped map[string]bool) {
	mounts, ok := container["volumeMounts"].([]any)
	if !ok {
		return
	}
	kept := make([]any, 0, len(mounts))
	for _, m := range mounts {
		mount, _ := m.(map[string]any)
		if name, _ := mount["name"].(string); dropped[name] {
			continue
		}
		kept = append(kept, m)
	}
	if len(kept) == 0 {
		delete(container, "volumeMounts")
	} else {
		container["volumeMounts"] = kept
	}
}

// jobControllerUIDLabels hold the old Job's UID; the API server generates new
// ones for the new Job and refuses a template or selector with the old ones.
var jobControllerUIDLabels = []string{"controller-uid", "batch.kubernetes.io/controller-uid"}

func prepareJob(obj *unstructured.Unstructured) {
	spec, ok := obj.Object["spec"].(map[string]any)
	if !ok {
		return
	}
	if selector, ok := spec["selector"].(map[string]any); ok {
		if matchLabels, ok := selector["matchLabels"].(map[string]any); ok {
			for _, l := range jobControllerUIDLabels {
				delete(matchLabels, l)
			}
			if len(matchLabels) == 0 {
				delete(selector, "matchLabels")
			}
		}
		if exprs, _ := selector["matchExpressions"].([]any); len(exprs) == 0 {
			delete(selector, "matchExpressions")
		}
		if len(selector) == 0 {
			// Nothing of the user's selector is left: let the API server
			// generate one, which it only does when the selector is not
			// declared manual.
			delete(spec, "selector")
			delete(spec, "manualSelector")
		}
	}
	template, _ := spec["template"].(map[string]any)
	md, _ := template["metadata"].(map[string]any)
	if labels, ok := md["labels"].(map[string]any); ok {
		for _, l := range jobControllerUIDLabels {
			delete(labels, l)
		}
	}
}

// prepareService drops what the cluster allocates: cluster IPs (they belong
// to the old cluster's service range and may be taken) and node ports.
// Headless services keep clusterIP "None", which is their definition.
func prepareService(obj *unstructured.Unstructured) {
	spec, ok := obj.Object["spec"].(map[string]any)
	if !ok {
		return
	}
	if ip, _ := spec["clusterIP"].(string); ip != "None" {
		delete(spec, "clusterIP")
		delete(spec, "clusterIPs")
	}
	delete(spec, "healthCheckNodePort")
	ports, _ := spec["ports"].([]any)
	for _, p := range ports {
		if port, ok := p.(map[string]any); ok {
			delete(port, "nodePort")
		}
	}
}

// preparePersistentVolume lets the volume bind to the restored claim: the
// claim reference keeps the claim's namespace (mapped by namespaceMapper)
// and name but loses the old claim's UID, which would make the volume look
// taken.
func preparePersistentVolume(obj *unstructured.Unstructured) {
	claimRef := nested(obj.Object, "spec", "claimRef")
	delete(claimRef, "uid")
	delete(claimRef, "resourceVersion")
}

// pvcBindingAnnotations record the old binding. With bind-completed kept, the
// PV controller treats the new claim as bound and, seeing the volume's claim
// reference without the claim's new UID, marks it Lost; without it the
// controller binds the claim to spec.volumeName again. The selected node is a
// node of the old cluster.
var pvcBindingAnnotations = []string{
	"pv.kubernetes.io/bind-completed",
	"pv.kubernetes.io/bound-by-controller",
	"volume.kubernetes.io/selected-node",
}

func preparePersistentVolumeClaim(obj *unstructured.Unstructured) {
	annotations := obj.GetAnnotations()
	if len(annotations) == 0 {
		return
	}
	for _, a := range pvcBindingAnnotations {
		delete(annotations, a)
	}
	obj.SetAnnotations(annotations)
}

// serviceAccountTokenType is the type of the Secrets that hold a legacy
// (long-lived) ServiceAccount token.
const serviceAccountTokenType = "kubernetes.io/service-account-token"

// serviceAccountUIDAnnotation names the ServiceAccount a token was made for.
const serviceAccountUIDAnnotation = "kubernetes.io/service-account.uid"

// prepareSecret lets the cluster make a legacy ServiceAccount token again.
// The backed-up token was signed for the old ServiceAccount (its UID, its
// namespace, the old cluster's key), so it is refused once restored; worse,
// the token controller deletes a token Secret whose UID annotation is not
// its ServiceAccount's, and the restored ServiceAccount always has a new
// UID. Without the annotation and the token, the controller fills in the
// new ServiceAccount's UID, a new token, the cluster's CA and the Secret's
// (possibly mapped) namespace.
func prepareSecret(obj *unstructured.Unstructured) {
	if t, _ := obj.Object["type"].(string); t != serviceAccountTokenType {
		return
	}
	if annotations := obj.GetAnnotations(); annotations != nil {
		delete(annotations, serviceAccountUIDAnnotation)
		obj.SetAnnotations(annotations)
	}
	data := nested(obj.Object, "data")
	for _, k := range []string{"token", "namespace", "ca.crt"} {
		delete(data, k)
	}
}
