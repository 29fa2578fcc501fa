package main

import (
	"context"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/pkg/plugin"
	"github.com/heptio/ark/pkg/plugin/plugintest"
)

const podYAML = `
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec:
  volumes:
  - name: conf
    configMap: {name: web-config}
  - name: tls
    secret: {secretName: web-tls}
  - name: all
    projected:
      sources:
      - configMap: {name: shared}
      - secret: {name: token}
  - name: scratch
    emptyDir: {}
  initContainers:
  - name: migrate
    image: migrate
    envFrom:
    - secretRef: {name: db}
  containers:
  - name: web
    image: web
    envFrom:
    - configMapRef: {name: web-config}
    env:
    - name: KEY
      valueFrom: {secretKeyRef: {name: api-key, key: k}}
    - name: MODE
      valueFrom: {configMapKeyRef: {name: modes, key: m}}
    - name: PLAIN
      value: x
`

// TestThroughTheProtocol runs the built plugin as the Ark server does.
func TestThroughTheProtocol(t *testing.T) {
	client := plugintest.Start(t, plugintest.Build(t, ".", "."), plugin.HostOptions{})
	a := client.BackupItemAction("example.com/pod-config")
	sel, err := a.AppliesTo()
	if err != nil || fmt.Sprint(sel.IncludedResources) != "[pods]" {
		t.Fatalf("AppliesTo = %+v, %v", sel, err)
	}
	pod := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(podYAML), &pod.Object); err != nil {
		t.Fatal(err)
	}
	item, additional, err := a.Execute(context.Background(), pod, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if item.GetName() != "web" {
		t.Errorf("the pod came back as %v", item)
	}
	var got []string
	for _, id := range additional {
		got = append(got, id.GroupResource.String()+" "+id.Namespace+"/"+id.Name)
	}
	want := "[configmaps shop/modes configmaps shop/shared configmaps shop/web-config secrets shop/api-key secrets shop/db secrets shop/token secrets shop/web-tls]"
	if fmt.Sprint(got) != want {
		t.Errorf("additional items:\n got %v\nwant %s", got, want)
	}
}
