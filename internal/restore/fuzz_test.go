package restore

import (
	"encoding/json"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// FuzzBuiltinActions feeds arbitrary objects, as a hostile or corrupt
// archive may hold them, to the built-in actions of every resource they
// touch, with a namespace mapping. Invariants: no panic; mapping is
// idempotent (team-b is not a source, so a second pass changes nothing);
// without a mapping the namespace mapper changes nothing.
//
//	go test ./internal/restore -run '^$' -fuzz FuzzBuiltinActions -fuzztime 2m
func FuzzBuiltinActions(f *testing.F) {
	for _, s := range []string{
		`{"subjects":[{"kind":"ServiceAccount","name":"app","namespace":"team-a"}]}`,
		`{"spec":{"claimRef":{"namespace":"team-a","uid":"x"},"csi":{"nodePublishSecretRef":{"namespace":"team-a"}},"azureFile":{"secretNamespace":"team-a"}}}`,
		`{"spec":{"template":{"spec":{"affinity":{"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{"namespaces":["team-a"]}]}}}}}}`,
		`{"spec":{"ingress":[{"from":[{"namespaceSelector":{"matchExpressions":[{"key":"kubernetes.io/metadata.name","values":["team-a"]}]}}]}]}}`,
		`{"type":"kubernetes.io/service-account-token","metadata":{"annotations":{"kubernetes.io/service-account.uid":"u"}},"data":{"token":"x"}}`,
		`{"spec":{"nodeName":"n","volumes":[{"name":"kube-api-access-1","projected":{}}],"containers":[{"volumeMounts":[{"name":"kube-api-access-1"}]}]}}`,
		`{"spec":{"selector":{"matchLabels":{"controller-uid":"x"}},"template":{"metadata":{"labels":{"controller-uid":"x"}}}}}`,
		`{"spec":{"clusterIP":"10.0.0.1","ports":[{"nodePort":1}]}}`,
		`{"webhooks":[{"clientConfig":{"service":{"namespace":"team-a"}}}],"subsets":[{"addresses":[{"targetRef":{"namespace":"team-a"}}]}]}`,
		`{"spec":[],"subjects":{},"webhooks":"x","data":[]}`, `[]`, `null`, `{}`,
	} {
		f.Add([]byte(s))
	}
	keys := []string{podsKey, jobsKey, servicesKey, pvsKey, pvcsKey, secretsKey, roleBindingsKey, clusterRoleBindingsKey,
		serviceAccountsKey, networkPoliciesKey, endpointsKey, endpointSlicesKey, apiServicesKey, validatingWebhooksKey,
		mutatingWebhooksKey, validatingBindingsKey, crdsKey, snapshotContentsKey, "deployments.apps", "cronjobs.batch", "podtemplates"}
	mapping := map[string]string{"team-a": "team-b"}
	f.Fuzz(func(t *testing.T, data []byte) {
		var body map[string]any
		if json.Unmarshal(data, &body) != nil || body == nil {
			return
		}
		for _, key := range keys {
			once := &unstructured.Unstructured{Object: deepCopyJSON(body)}
			applyBuiltinActions(key, once, mapping)
			twice := &unstructured.Unstructured{Object: deepCopyJSON(once.Object)}
			applyBuiltinActions(key, twice, mapping)
			if !reflect.DeepEqual(once.Object, twice.Object) {
				t.Fatalf("%s: a second pass changed the object:\n%v\n%v", key, once.Object, twice.Object)
			}
			unmapped := &unstructured.Unstructured{Object: deepCopyJSON(body)}
			namespaceMapper(nil).apply(key, unmapped)
			if !reflect.DeepEqual(unmapped.Object, body) {
				t.Fatalf("%s: without a mapping the mapper changed the object", key)
			}
		}
	})
}

func deepCopyJSON(m map[string]any) map[string]any {
	data, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return out
}
