package localnode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// waitError is a problem that may go away by itself (a PVC not bound yet, a
// ConfigMap not created yet): the pod waits and tries again.
type waitError struct{ reason, msg string }

func (e *waitError) Error() string { return e.msg }

// specError is a pod the node can never run as written; the message says why
// and what would work.
type specError struct{ msg string }

func (e *specError) Error() string { return e.msg }

// supportedVolumes is named in the error for any other volume type.
const supportedVolumes = "emptyDir, hostPath, configMap, secret, downwardAPI, projected (serviceAccountToken, configMap, secret, downwardAPI) and persistentVolumeClaim bound to a hostPath or local PersistentVolume"

// volumeSetup makes each volume of a pod a directory (or, for a hostPath
// file, a file) on this machine and returns their paths by volume name.
type volumeSetup struct {
	client   kubernetes.Interface
	pod      *corev1.Pod
	podDir   string
	node     *corev1.Node
	resolver *fieldResolver
}

func (s *volumeSetup) prepare(ctx context.Context) (map[string]string, error) {
	paths := map[string]string{}
	for _, v := range s.pod.Spec.Volumes {
		p, err := s.volume(ctx, v)
		if err != nil {
			var we *waitError
			var se *specError
			if errors.As(err, &we) || errors.As(err, &se) {
				return nil, err
			}
			return nil, &waitError{reason: "FailedMount", msg: fmt.Sprintf("volume %q: %v", v.Name, err)}
		}
		paths[v.Name] = p
	}
	return paths, nil
}

// dir is where a volume the node owns lives; it goes with the pod.
func (s *volumeSetup) dir(name string) (string, error) {
	d := filepath.Join(s.podDir, "volumes", name)
	return d, os.MkdirAll(d, 0o755)
}

func (s *volumeSetup) volume(ctx context.Context, v corev1.Volume) (string, error) {
	src := v.VolumeSource
	switch {
	case src.EmptyDir != nil:
		// medium: Memory and sizeLimit have no effect: it is a directory.
		return s.dir(v.Name)
	case src.HostPath != nil:
		return hostPath(v.Name, src.HostPath)
	case src.ConfigMap != nil:
		files, err := s.configMapFiles(ctx, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.DefaultMode, src.ConfigMap.Optional)
		if err != nil {
			return "", fmt.Errorf("volume %q: %w", v.Name, err)
		}
		return s.writeVolume(v.Name, files)
	case src.Secret != nil:
		files, err := s.secretFiles(ctx, src.Secret.SecretName, src.Secret.Items, src.Secret.DefaultMode, src.Secret.Optional)
		if err != nil {
			return "", fmt.Errorf("volume %q: %w", v.Name, err)
		}
		return s.writeVolume(v.Name, files)
	case src.DownwardAPI != nil:
		files, err := s.downwardFiles(src.DownwardAPI.Items, src.DownwardAPI.DefaultMode)
		if err != nil {
			return "", fmt.Errorf("volume %q: %w", v.Name, err)
		}
		return s.writeVolume(v.Name, files)
	case src.Projected != nil:
		files, err := s.projectedFiles(ctx, src.Projected)
		if err != nil {
			return "", fmt.Errorf("volume %q: %w", v.Name, err)
		}
		return s.writeVolume(v.Name, files)
	case src.PersistentVolumeClaim != nil:
		return s.claim(ctx, v.Name, src.PersistentVolumeClaim.ClaimName)
	default:
		return "", &specError{msg: fmt.Sprintf("volume %q: this type of volume is not supported by the local node; it supports %s", v.Name, supportedVolumes)}
	}
}

func hostPath(name string, hp *corev1.HostPathVolumeSource) (string, error) {
	p := filepath.Clean(hp.Path)
	t := corev1.HostPathUnset
	if hp.Type != nil {
		t = *hp.Type
	}
	fi, statErr := os.Stat(p)
	switch t {
	case corev1.HostPathUnset:
	case corev1.HostPathDirectoryOrCreate:
		if errors.Is(statErr, os.ErrNotExist) {
			return p, os.MkdirAll(p, 0o755)
		}
		if statErr == nil && !fi.IsDir() {
			return "", &specError{msg: fmt.Sprintf("volume %q: hostPath %s exists and is not a directory", name, p)}
		}
	case corev1.HostPathFileOrCreate:
		if errors.Is(statErr, os.ErrNotExist) {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return "", err
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return "", err
			}
			return p, f.Close()
		}
	case corev1.HostPathDirectory, corev1.HostPathFile, corev1.HostPathSocket, corev1.HostPathCharDev, corev1.HostPathBlockDev:
		if statErr != nil {
			return "", &waitError{reason: "FailedMount", msg: fmt.Sprintf("volume %q: hostPath %s of type %s: %v", name, p, t, statErr)}
		}
		want := map[corev1.HostPathType]func(os.FileMode) bool{
			corev1.HostPathDirectory: func(m os.FileMode) bool { return m.IsDir() },
			corev1.HostPathFile:      func(m os.FileMode) bool { return m.IsRegular() },
			corev1.HostPathSocket:    func(m os.FileMode) bool { return m&os.ModeSocket != 0 },
			corev1.HostPathCharDev:   func(m os.FileMode) bool { return m&os.ModeCharDevice != 0 },
			corev1.HostPathBlockDev:  func(m os.FileMode) bool { return m&os.ModeDevice != 0 && m&os.ModeCharDevice == 0 },
		}[t]
		if !want(fi.Mode()) {
			return "", &waitError{reason: "FailedMount", msg: fmt.Sprintf("volume %q: hostPath %s is not of type %s", name, p, t)}
		}
	default:
		return "", &specError{msg: fmt.Sprintf("volume %q: unknown hostPath type %q", name, t)}
	}
	return p, nil
}

// claim resolves a PVC to the directory of its PersistentVolume. The local
// cluster runs no PV binder, so a claim counts as bound once spec.volumeName
// names a PV whose claimRef (if set) points back at it.
func (s *volumeSetup) claim(ctx context.Context, volName, claimName string) (string, error) {
	ns := s.pod.Namespace
	pvc, err := s.client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claimName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", &waitError{reason: "FailedMount", msg: fmt.Sprintf("volume %q: PersistentVolumeClaim %s/%s not found", volName, ns, claimName)}
	}
	if err != nil {
		return "", err
	}
	if pvc.Spec.VolumeName == "" {
		return "", &waitError{reason: "FailedMount", msg: fmt.Sprintf("volume %q: PersistentVolumeClaim %s/%s is not bound: the local cluster has no provisioner or binder; create a hostPath PersistentVolume and set the claim's spec.volumeName to it", volName, ns, claimName)}
	}
	pv, err := s.client.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", &waitError{reason: "FailedMount", msg: fmt.Sprintf("volume %q: PersistentVolume %s of claim %s/%s not found", volName, pvc.Spec.VolumeName, ns, claimName)}
	}
	if err != nil {
		return "", err
	}
	if ref := pv.Spec.ClaimRef; ref != nil && (ref.Namespace != ns || ref.Name != claimName) {
		return "", &waitError{reason: "FailedMount", msg: fmt.Sprintf("volume %q: PersistentVolume %s is claimed by %s/%s, not %s/%s", volName, pv.Name, ref.Namespace, ref.Name, ns, claimName)}
	}
	switch {
	case pv.Spec.HostPath != nil:
		return hostPath(volName, pv.Spec.HostPath)
	case pv.Spec.Local != nil:
		return filepath.Clean(pv.Spec.Local.Path), nil
	default:
		return "", &specError{msg: fmt.Sprintf("volume %q: PersistentVolume %s is not a hostPath or local volume, the only kinds the local node can use", volName, pv.Name)}
	}
}

// file is one file of a configMap, secret, downwardAPI or projected volume.
type file struct {
	path string
	data []byte
	mode os.FileMode
}

func mode(item *int32, def *int32) os.FileMode {
	if item != nil {
		return os.FileMode(*item) & 0o777
	}
	if def != nil {
		return os.FileMode(*def) & 0o777
	}
	return 0o644
}

func keyFiles(kind, name string, data map[string][]byte, items []corev1.KeyToPath, defMode *int32, optional bool) ([]file, error) {
	if len(items) == 0 {
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([]file, 0, len(keys))
		for _, k := range keys {
			out = append(out, file{path: k, data: data[k], mode: mode(nil, defMode)})
		}
		return out, nil
	}
	var out []file
	for _, it := range items {
		d, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return nil, &waitError{reason: "FailedMount", msg: fmt.Sprintf("%s %s has no key %q", kind, name, it.Key)}
		}
		out = append(out, file{path: it.Path, data: d, mode: mode(it.Mode, defMode)})
	}
	return out, nil
}

func (s *volumeSetup) configMapFiles(ctx context.Context, name string, items []corev1.KeyToPath, defMode *int32, optional *bool) ([]file, error) {
	cm, err := s.client.CoreV1().ConfigMaps(s.pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if ptr.Deref(optional, false) {
			return nil, nil
		}
		return nil, &waitError{reason: "FailedMount", msg: fmt.Sprintf("ConfigMap %s/%s not found", s.pod.Namespace, name)}
	}
	if err != nil {
		return nil, err
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return keyFiles("ConfigMap", s.pod.Namespace+"/"+name, data, items, defMode, ptr.Deref(optional, false))
}

func (s *volumeSetup) secretFiles(ctx context.Context, name string, items []corev1.KeyToPath, defMode *int32, optional *bool) ([]file, error) {
	sec, err := s.client.CoreV1().Secrets(s.pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if ptr.Deref(optional, false) {
			return nil, nil
		}
		return nil, &waitError{reason: "FailedMount", msg: fmt.Sprintf("Secret %s/%s not found", s.pod.Namespace, name)}
	}
	if err != nil {
		return nil, err
	}
	return keyFiles("Secret", s.pod.Namespace+"/"+name, sec.Data, items, defMode, ptr.Deref(optional, false))
}

func (s *volumeSetup) downwardFiles(items []corev1.DownwardAPIVolumeFile, defMode *int32) ([]file, error) {
	var out []file
	for _, it := range items {
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = s.resolver.volumeField(it.FieldRef.FieldPath)
		case it.ResourceFieldRef != nil:
			v, err = s.resolver.resource(it.ResourceFieldRef)
		default:
			err = &specError{msg: fmt.Sprintf("downwardAPI item %q has neither fieldRef nor resourceFieldRef", it.Path)}
		}
		if err != nil {
			return nil, err
		}
		out = append(out, file{path: it.Path, data: []byte(v), mode: mode(it.Mode, defMode)})
	}
	return out, nil
}

func (s *volumeSetup) projectedFiles(ctx context.Context, p *corev1.ProjectedVolumeSource) ([]file, error) {
	var out []file
	for _, src := range p.Sources {
		var files []file
		var err error
		switch {
		case src.ConfigMap != nil:
			files, err = s.configMapFiles(ctx, src.ConfigMap.Name, src.ConfigMap.Items, p.DefaultMode, src.ConfigMap.Optional)
		case src.Secret != nil:
			files, err = s.secretFiles(ctx, src.Secret.Name, src.Secret.Items, p.DefaultMode, src.Secret.Optional)
		case src.DownwardAPI != nil:
			files, err = s.downwardFiles(src.DownwardAPI.Items, p.DefaultMode)
		case src.ServiceAccountToken != nil:
			var tok string
			tok, err = s.token(ctx, src.ServiceAccountToken)
			files = []file{{path: src.ServiceAccountToken.Path, data: []byte(tok), mode: mode(nil, p.DefaultMode)}}
		default:
			err = &specError{msg: "a projected source other than configMap, secret, downwardAPI or serviceAccountToken is not supported by the local node"}
		}
		if err != nil {
			return nil, err
		}
		out = append(out, files...)
	}
	return out, nil
}

// token asks the API server for a token bound to the pod. It is written once
// and not refreshed.
func (s *volumeSetup) token(ctx context.Context, src *corev1.ServiceAccountTokenProjection) (string, error) {
	sa := s.pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: src.ExpirationSeconds,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: s.pod.Name, UID: s.pod.UID},
	}}
	if src.Audience != "" {
		req.Spec.Audiences = []string{src.Audience}
	}
	tr, err := s.client.CoreV1().ServiceAccounts(s.pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		return "", &waitError{reason: "FailedMount", msg: fmt.Sprintf("token of ServiceAccount %s/%s: %v", s.pod.Namespace, sa, err)}
	}
	return tr.Status.Token, nil
}

// writeVolume writes files under the volume's directory, refusing paths that
// would leave it.
func (s *volumeSetup) writeVolume(name string, files []file) (string, error) {
	d, err := s.dir(name)
	if err != nil {
		return "", err
	}
	for _, f := range files {
		clean := filepath.Clean(f.path)
		if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
			return "", &specError{msg: fmt.Sprintf("volume %q: path %q leaves the volume", name, f.path)}
		}
		p := filepath.Join(d, clean)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		// A file written read-only by an earlier start of the pod.
		_ = os.Remove(p)
		if err := os.WriteFile(p, f.data, 0o600); err != nil {
			return "", err
		}
		if err := os.Chmod(p, f.mode); err != nil {
			return "", err
		}
	}
	return d, nil
}
