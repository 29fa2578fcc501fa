package plugin

import (
	"os"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// shippedDeployment is the Deployment of examples/common/10-deployment.yaml.
func shippedDeployment(t *testing.T) *appsv1.Deployment {
	data, err := os.ReadFile("../../../examples/common/10-deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d := &appsv1.Deployment{}
	if err := yaml.Unmarshal(data, d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestAddAndRemovePlugins(t *testing.T) {
	d := shippedDeployment(t)
	name, err := addPlugin(d, "gcr.io/me/ark-dirstore:v1", corev1.PullIfNotPresent)
	if err != nil || name != "ark-dirstore" {
		t.Fatalf("add = %q, %v", name, err)
	}
	name2, err := addPlugin(d, "registry.example.com:5000/other/ark-dirstore@sha256:abc", corev1.PullAlways)
	if err != nil || name2 != "ark-dirstore-2" {
		t.Fatalf("second add = %q, %v; want a name of its own", name2, err)
	}
	if _, err := addPlugin(d, "gcr.io/me/ark-dirstore:v1", corev1.PullIfNotPresent); err == nil || !strings.Contains(err.Error(), "already added") {
		t.Errorf("adding an image twice: %v", err)
	}
	spec := d.Spec.Template.Spec
	init := spec.InitContainers[0]
	if init.Image != "gcr.io/me/ark-dirstore:v1" || init.ImagePullPolicy != corev1.PullIfNotPresent ||
		len(init.VolumeMounts) != 1 || init.VolumeMounts[0] != (corev1.VolumeMount{Name: "plugins", MountPath: "/target"}) {
		t.Errorf("init container = %+v", init)
	}
	volumes, mounts := 0, 0
	for _, v := range spec.Volumes {
		if v.Name == "plugins" {
			volumes++
		}
	}
	for _, m := range spec.Containers[0].VolumeMounts {
		if m.Name == "plugins" && m.MountPath == "/plugins" {
			mounts++
		}
	}
	if volumes != 1 || mounts != 1 {
		t.Errorf("the shipped deployment has the plugins volume and mount: now %d volumes, %d mounts; want them kept once", volumes, mounts)
	}

	if removed, err := removePlugin(d, "ark-dirstore-2"); err != nil || removed != "ark-dirstore-2" {
		t.Errorf("remove by name = %q, %v", removed, err)
	}
	if _, err := removePlugin(d, "nothing"); err == nil || !strings.Contains(err.Error(), "its plugins are: ark-dirstore (gcr.io/me/ark-dirstore:v1)") {
		t.Errorf("removing an unknown plugin: %v", err)
	}
	if removed, err := removePlugin(d, "gcr.io/me/ark-dirstore:v1"); err != nil || removed != "ark-dirstore" || len(d.Spec.Template.Spec.InitContainers) != 0 {
		t.Errorf("remove by image = %q, %v, left %v", removed, err, d.Spec.Template.Spec.InitContainers)
	}
}

func TestAddCreatesTheVolumeWhenMissing(t *testing.T) {
	d := &appsv1.Deployment{}
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "ark"}}
	if _, err := addPlugin(d, "p:1", corev1.PullNever); err != nil {
		t.Fatal(err)
	}
	spec := d.Spec.Template.Spec
	if len(spec.Volumes) != 1 || spec.Volumes[0].EmptyDir == nil || len(spec.Containers[0].VolumeMounts) != 1 || spec.Containers[0].VolumeMounts[0].MountPath != "/plugins" {
		t.Errorf("spec = %+v", spec)
	}
	other := &appsv1.Deployment{}
	other.Spec.Template.Spec.Containers = []corev1.Container{{Name: "web"}}
	if _, err := addPlugin(other, "p:1", corev1.PullNever); err == nil || !strings.Contains(err.Error(), `no container named "ark"`) {
		t.Errorf("a deployment without the server's container: %v", err)
	}
}
