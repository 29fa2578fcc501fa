package main

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/heptio/ark/pkg/plugin"
	"github.com/heptio/ark/pkg/plugin/plugintest"
)

func TestParseRules(t *testing.T) {
	r, err := parseRules(map[string]string{"hub": " docker.io/library/   mirror.example.com/library/ "})
	if err != nil || r["docker.io/library/"] != "mirror.example.com/library/" {
		t.Errorf("parseRules = %v, %v", r, err)
	}
	if _, err := parseRules(map[string]string{"bad": "docker.io/"}); err == nil || !strings.Contains(err.Error(), `rule "bad" is "docker.io/": write the old image prefix and the new one`) {
		t.Errorf("a rule without a new prefix: %v", err)
	}
}

func TestRewrite(t *testing.T) {
	r := rules{"docker.io/": "mirror.example.com/hub/", "docker.io/library/": "mirror.example.com/library/"}
	deploy := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"initContainers": []any{map[string]any{"name": "i", "image": "docker.io/bitnami/kubectl:1"}},
			"containers":     []any{map[string]any{"name": "c", "image": "docker.io/library/nginx:1.27"}, map[string]any{"name": "d", "image": "quay.io/x/y"}},
		}}},
	}}
	changes := r.rewrite(deploy)
	want := "[docker.io/bitnami/kubectl:1 -> mirror.example.com/hub/bitnami/kubectl:1 docker.io/library/nginx:1.27 -> mirror.example.com/library/nginx:1.27]"
	if fmt.Sprint(changes) != want {
		t.Errorf("changes:\n got %v\nwant %s", changes, want)
	}
	containers, _, _ := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "containers")
	if img := containers[0].(map[string]any)["image"]; img != "mirror.example.com/library/nginx:1.27" {
		t.Errorf("image = %v (the longest prefix wins)", img)
	}
	if img := containers[1].(map[string]any)["image"]; img != "quay.io/x/y" {
		t.Errorf("an image no prefix matches changed: %v", img)
	}
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap"}}
	if changes := r.rewrite(cm); changes != nil {
		t.Errorf("a ConfigMap was changed: %v", changes)
	}
}

// TestThroughTheProtocol starts the built plugin as the Ark server does.
// (Executing it needs a cluster for the ConfigMap: the end-to-end tests
// do that.)
func TestThroughTheProtocol(t *testing.T) {
	client := plugintest.Start(t, plugintest.Build(t, ".", "."), plugin.HostOptions{})
	sel, err := client.RestoreItemAction("example.com/registry-rewrite").AppliesTo()
	if err != nil || len(sel.IncludedResources) != 8 {
		t.Fatalf("AppliesTo = %+v, %v", sel, err)
	}
}
