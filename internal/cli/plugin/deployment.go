package plugin

import (
	"fmt"
	"regexp"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

const (
	// DeploymentName is the Deployment of examples/common/10-deployment.yaml.
	DeploymentName = "ark"
	// serverContainer is the server's container in it.
	serverContainer = "ark"
	// pluginsVolume holds the plugin binaries, mounted at pluginsDir in the
	// server's container and at targetDir in each plugin's init container.
	pluginsVolume = "plugins"
	pluginsDir    = "/plugins"
	// targetDir is where a plugin image's entrypoint copies its binaries.
	targetDir = "/target"
)

// addPlugin adds an init container that copies image's binaries into the
// plugins volume, creating the volume and its mount in the server's
// container when the Deployment lacks them. It returns the init
// container's name.
func addPlugin(d *appsv1.Deployment, image string, pullPolicy corev1.PullPolicy) (string, error) {
	spec := &d.Spec.Template.Spec
	for _, c := range spec.InitContainers {
		if c.Image == image {
			return "", fmt.Errorf("plugin image %s is already added to deployment %s/%s (init container %s)", image, d.Namespace, d.Name, c.Name)
		}
	}
	server := -1
	for i, c := range spec.Containers {
		if c.Name == serverContainer {
			server = i
		}
	}
	if server < 0 {
		return "", fmt.Errorf("deployment %s/%s has no container named %q: is it the Ark server's (examples/common/10-deployment.yaml)?", d.Namespace, d.Name, serverContainer)
	}
	if !hasVolume(spec.Volumes, pluginsVolume) {
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: pluginsVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	}
	if !hasMount(spec.Containers[server].VolumeMounts, pluginsVolume) {
		spec.Containers[server].VolumeMounts = append(spec.Containers[server].VolumeMounts, corev1.VolumeMount{Name: pluginsVolume, MountPath: pluginsDir})
	}
	name := uniqueName(spec.InitContainers, containerName(image))
	spec.InitContainers = append(spec.InitContainers, corev1.Container{
		Name:            name,
		Image:           image,
		ImagePullPolicy: pullPolicy,
		VolumeMounts:    []corev1.VolumeMount{{Name: pluginsVolume, MountPath: targetDir}},
	})
	return name, nil
}

// removePlugin removes the init container whose image or name is
// imageOrName and returns its name.
func removePlugin(d *appsv1.Deployment, imageOrName string) (string, error) {
	spec := &d.Spec.Template.Spec
	var names []string
	for i, c := range spec.InitContainers {
		if c.Image == imageOrName || c.Name == imageOrName {
			spec.InitContainers = append(spec.InitContainers[:i], spec.InitContainers[i+1:]...)
			return c.Name, nil
		}
		names = append(names, c.Name+" ("+c.Image+")")
	}
	if len(names) == 0 {
		return "", fmt.Errorf("deployment %s/%s has no plugins to remove", d.Namespace, d.Name)
	}
	return "", fmt.Errorf("no plugin with image or name %q in deployment %s/%s; its plugins are: %s", imageOrName, d.Namespace, d.Name, strings.Join(names, ", "))
}

func hasVolume(vs []corev1.Volume, name string) bool {
	for _, v := range vs {
		if v.Name == name {
			return true
		}
	}
	return false
}

func hasMount(ms []corev1.VolumeMount, name string) bool {
	for _, m := range ms {
		if m.Name == name {
			return true
		}
	}
	return false
}

var notDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// containerName is an image's last path element without tag or digest,
// made a DNS label: gcr.io/me/ark-dirstore:v1 -> ark-dirstore.
func containerName(image string) string {
	name := image
	if i := strings.Index(name, "@"); i >= 0 {
		name = name[:i]
	}
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	if i := strings.Index(name, ":"); i >= 0 {
		name = name[:i]
	}
	name = strings.Trim(notDNS.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(name) > 50 {
		name = strings.Trim(name[:50], "-")
	}
	if name == "" {
		name = "plugin"
	}
	return name
}

func uniqueName(cs []corev1.Container, base string) string {
	taken := map[string]bool{}
	for _, c := range cs {
		taken[c.Name] = true
	}
	name := base
	for i := 2; taken[name]; i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	return name
}
