package restore

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
)

func mustObj(t *testing.T, js string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON([]byte(js)); err != nil {
		t.Fatal(err)
	}
	return u
}

func assertJSON(t *testing.T, got *unstructured.Unstructured, want string) {
	t.Helper()
	var w map[string]any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	g, _ := json.Marshal(got.Object)
	var gm map[string]any
	_ = json.Unmarshal(g, &gm)
	if !reflect.DeepEqual(gm, w) {
		t.Errorf("got  %s\nwant %s", g, want)
	}
}

func TestResetMetadataAndStatus(t *testing.T) {
	obj := mustObj(t, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{
		"name":"cm","namespace":"ns","uid":"u","resourceVersion":"1","creationTimestamp":"2018-01-01T00:00:00Z",
		"deletionTimestamp":"2018-01-02T00:00:00Z","deletionGracePeriodSeconds":30,"generation":2,"selfLink":"/x",
		"managedFields":[{"manager":"m"}],"generateName":"c","labels":{"a":"b"},"annotations":{"c":"d"},
		"finalizers":["f"],"ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"o","uid":"ou"}]},
		"data":{"k":"v"},"status":{"x":1}}`)
	resetMetadataAndStatus(obj)
	addRestoreLabel(obj, "r1")
	assertJSON(t, obj, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","namespace":"ns",
		"labels":{"a":"b","ark-restore":"r1"},"annotations":{"c":"d"},"finalizers":["f"]},"data":{"k":"v"}}`)
}

func TestRestoreLabelValueIsAlwaysAValidLabel(t *testing.T) {
	long := strings.Repeat("a", 60) + "-20180102030405"
	for _, name := range []string{"nginx-backup-20180102030405", long, long + "x", "-" + long, "a_b.c"} {
		v := restoreLabelValue(name)
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			t.Errorf("restoreLabelValue(%q) = %q, not a valid label value: %v", name, v, errs)
		}
		if len(name) <= 63 && v != name {
			t.Errorf("restoreLabelValue(%q) = %q, want the name unchanged", name, v)
		}
	}
	if restoreLabelValue(long) == restoreLabelValue(long+"x") {
		t.Error("two long restore names got the same label value")
	}
}

func TestPreparePodDropsNodeAndServiceAccountTokens(t *testing.T) {
	pod := mustObj(t, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{
		"nodeName":"node-1","serviceAccountName":"builder",
		"ephemeralContainers":[{"name":"debug","image":"busybox"}],
		"volumes":[
			{"name":"data","persistentVolumeClaim":{"claimName":"c"}},
			{"name":"kube-api-access-x7k2p","projected":{"sources":[{"serviceAccountToken":{"path":"token"}}]}},
			{"name":"builder-token-abcde","secret":{"secretName":"builder-token-abcde"}},
			{"name":"legacy","secret":{"secretName":"default-token-zzzzz"}},
			{"name":"creds","secret":{"secretName":"my-secret"}}],
		"initContainers":[{"name":"init","volumeMounts":[{"name":"kube-api-access-x7k2p","mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}]}],
		"containers":[{"name":"app","volumeMounts":[
			{"name":"data","mountPath":"/data"},
			{"name":"builder-token-abcde","mountPath":"/t"},
			{"name":"legacy","mountPath":"/l"},
			{"name":"creds","mountPath":"/c"}]}]}}`)
	applyBuiltinActions(podsKey, pod, actionOptions{})
	assertJSON(t, pod, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{
		"serviceAccountName":"builder",
		"volumes":[
			{"name":"data","persistentVolumeClaim":{"claimName":"c"}},
			{"name":"creds","secret":{"secretName":"my-secret"}}],
		"initContainers":[{"name":"init"}],
		"containers":[{"name":"app","volumeMounts":[
			{"name":"data","mountPath":"/data"},
			{"name":"creds","mountPath":"/c"}]}]}}`)
}

func TestPreparePodKeepsAProjectedVolumeThatIsNotAToken(t *testing.T) {
	pod := mustObj(t, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{
		"volumes":[{"name":"config","projected":{"sources":[{"configMap":{"name":"c"}}]}}],
		"containers":[{"name":"app","volumeMounts":[{"name":"config","mountPath":"/c"}]}]}}`)
	before := pod.DeepCopy()
	preparePod(pod)
	if !reflect.DeepEqual(before, pod) {
		t.Errorf("pod changed: %v", pod.Object)
	}
}

func TestPrepareJob(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{
			name: "generated selector is dropped so the API server generates a new one",
			in: `{"spec":{"manualSelector":false,"selector":{"matchLabels":{"batch.kubernetes.io/controller-uid":"old"}},
				"template":{"metadata":{"labels":{"controller-uid":"old","batch.kubernetes.io/controller-uid":"old","job-name":"j","batch.kubernetes.io/job-name":"j","app":"x"}}}}}`,
			want: `{"spec":{"template":{"metadata":{"labels":{"job-name":"j","batch.kubernetes.io/job-name":"j","app":"x"}}}}}`,
		},
		{
			name: "legacy controller-uid selector",
			in:   `{"spec":{"selector":{"matchLabels":{"controller-uid":"old"}},"template":{"metadata":{"labels":{"controller-uid":"old","job-name":"j"}}}}}`,
			want: `{"spec":{"template":{"metadata":{"labels":{"job-name":"j"}}}}}`,
		},
		{
			name: "manual selector is kept",
			in: `{"spec":{"manualSelector":true,"selector":{"matchLabels":{"app":"x"},"matchExpressions":[{"key":"tier","operator":"In","values":["a"]}]},
				"template":{"metadata":{"labels":{"app":"x","tier":"a"}}}}}`,
			want: `{"spec":{"manualSelector":true,"selector":{"matchLabels":{"app":"x"},"matchExpressions":[{"key":"tier","operator":"In","values":["a"]}]},
				"template":{"metadata":{"labels":{"app":"x","tier":"a"}}}}}`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			job := mustObj(t, `{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"},`+strings.TrimPrefix(c.in, "{"))
			applyBuiltinActions(jobsKey, job, actionOptions{})
			assertJSON(t, job, `{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"},`+strings.TrimPrefix(c.want, "{"))
		})
	}
}

func TestPrepareService(t *testing.T) {
	svc := mustObj(t, `{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"type":"LoadBalancer",
		"clusterIP":"10.0.0.12","clusterIPs":["10.0.0.12"],"healthCheckNodePort":31000,"externalTrafficPolicy":"Local",
		"ports":[{"port":80,"nodePort":30080},{"port":443,"nodePort":30443,"name":"https"}]}}`)
	applyBuiltinActions(servicesKey, svc, actionOptions{})
	assertJSON(t, svc, `{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"type":"LoadBalancer",
		"externalTrafficPolicy":"Local","ports":[{"port":80},{"port":443,"name":"https"}]}}`)

	headless := mustObj(t, `{"apiVersion":"v1","kind":"Service","metadata":{"name":"h"},"spec":{"clusterIP":"None","clusterIPs":["None"],"ports":[{"port":80}]}}`)
	want := headless.DeepCopy()
	applyBuiltinActions(servicesKey, headless, actionOptions{})
	if !reflect.DeepEqual(want, headless) {
		t.Errorf("headless service changed: %v", headless.Object)
	}
}

func TestPreparePersistentVolumeAndClaim(t *testing.T) {
	pv := mustObj(t, `{"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"pv1"},"spec":{
		"claimRef":{"kind":"PersistentVolumeClaim","namespace":"src","name":"data","uid":"old","resourceVersion":"9","apiVersion":"v1"},
		"hostPath":{"path":"/tmp/x"}}}`)
	applyBuiltinActions(pvsKey, pv, actionOptions{namespaceMapping: map[string]string{"src": "dst"}})
	assertJSON(t, pv, `{"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"pv1"},"spec":{
		"claimRef":{"kind":"PersistentVolumeClaim","namespace":"dst","name":"data","apiVersion":"v1"},"hostPath":{"path":"/tmp/x"}}}`)

	pvc := mustObj(t, `{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data","annotations":{
		"pv.kubernetes.io/bind-completed":"yes","pv.kubernetes.io/bound-by-controller":"yes",
		"volume.kubernetes.io/selected-node":"node-1","team":"a"}},"spec":{"volumeName":"pv1"}}`)
	applyBuiltinActions(pvcsKey, pvc, actionOptions{})
	assertJSON(t, pvc, `{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data","annotations":{"team":"a"}},"spec":{"volumeName":"pv1"}}`)
}
