package restore

import (
	"strings"
	"testing"
)

// TestNamespaceReferencesFollowTheMapping: restoring team-a as team-b, every
// reference to team-a an object holds besides its own namespace becomes
// team-b; references to other namespaces (kube-system, an unmapped one)
// stay.
func TestNamespaceReferencesFollowTheMapping(t *testing.T) {
	mapping := map[string]string{"team-a": "team-b"}
	for _, tc := range []struct {
		key, in, want string
	}{
		{roleBindingsKey,
			`{"subjects":[{"kind":"ServiceAccount","name":"app","namespace":"team-a"},{"kind":"ServiceAccount","name":"dns","namespace":"kube-system"},
				{"kind":"User","name":"team-a","apiGroup":"rbac.authorization.k8s.io"},{"kind":"Group","name":"devs","apiGroup":"rbac.authorization.k8s.io"}],
				"roleRef":{"kind":"Role","name":"reader","apiGroup":"rbac.authorization.k8s.io"}}`,
			`{"subjects":[{"kind":"ServiceAccount","name":"app","namespace":"team-b"},{"kind":"ServiceAccount","name":"dns","namespace":"kube-system"},
				{"kind":"User","name":"team-a","apiGroup":"rbac.authorization.k8s.io"},{"kind":"Group","name":"devs","apiGroup":"rbac.authorization.k8s.io"}],
				"roleRef":{"kind":"Role","name":"reader","apiGroup":"rbac.authorization.k8s.io"}}`},
		{clusterRoleBindingsKey,
			`{"subjects":[{"kind":"ServiceAccount","name":"app","namespace":"team-a"}],"roleRef":{"kind":"ClusterRole","name":"view","apiGroup":"rbac.authorization.k8s.io"}}`,
			`{"subjects":[{"kind":"ServiceAccount","name":"app","namespace":"team-b"}],"roleRef":{"kind":"ClusterRole","name":"view","apiGroup":"rbac.authorization.k8s.io"}}`},
		{pvsKey,
			`{"spec":{"claimRef":{"namespace":"team-a","name":"data"},"csi":{"driver":"d","volumeHandle":"h",
				"nodePublishSecretRef":{"name":"s","namespace":"team-a"},"controllerExpandSecretRef":{"name":"s","namespace":"kube-system"},
				"nodeStageSecretRef":{"name":"s","namespace":"team-a"},"controllerPublishSecretRef":{"name":"s","namespace":"team-a"},
				"nodeExpandSecretRef":{"name":"s","namespace":"team-a"}}}}`,
			`{"spec":{"claimRef":{"namespace":"team-b","name":"data"},"csi":{"driver":"d","volumeHandle":"h",
				"nodePublishSecretRef":{"name":"s","namespace":"team-b"},"controllerExpandSecretRef":{"name":"s","namespace":"kube-system"},
				"nodeStageSecretRef":{"name":"s","namespace":"team-b"},"controllerPublishSecretRef":{"name":"s","namespace":"team-b"},
				"nodeExpandSecretRef":{"name":"s","namespace":"team-b"}}}}`},
		{pvsKey,
			`{"spec":{"cephfs":{"monitors":["m"],"secretRef":{"name":"ceph","namespace":"team-a"}},"azureFile":{"secretName":"az","secretNamespace":"team-a","shareName":"x"}}}`,
			`{"spec":{"cephfs":{"monitors":["m"],"secretRef":{"name":"ceph","namespace":"team-b"}},"azureFile":{"secretName":"az","secretNamespace":"team-b","shareName":"x"}}}`},
		{pvcsKey,
			`{"spec":{"dataSourceRef":{"kind":"VolumeSnapshot","name":"snap","namespace":"team-a","apiGroup":"snapshot.storage.k8s.io"}}}`,
			`{"spec":{"dataSourceRef":{"kind":"VolumeSnapshot","name":"snap","namespace":"team-b","apiGroup":"snapshot.storage.k8s.io"}}}`},
		{serviceAccountsKey,
			`{"secrets":[{"name":"app-token","namespace":"team-a"},{"name":"other"}]}`,
			`{"secrets":[{"name":"app-token","namespace":"team-b"},{"name":"other"}]}`},
		{networkPoliciesKey,
			`{"spec":{"podSelector":{},"ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"team-a"}}},
				{"namespaceSelector":{"matchExpressions":[{"key":"kubernetes.io/metadata.name","operator":"In","values":["team-a","monitoring"]},
				{"key":"env","operator":"In","values":["team-a"]}]}}]}],
				"egress":[{"to":[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"team-a","env":"team-a"}}}]}]}}`,
			`{"spec":{"podSelector":{},"ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"team-b"}}},
				{"namespaceSelector":{"matchExpressions":[{"key":"kubernetes.io/metadata.name","operator":"In","values":["team-b","monitoring"]},
				{"key":"env","operator":"In","values":["team-a"]}]}}]}],
				"egress":[{"to":[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"team-b","env":"team-a"}}}]}]}}`},
		{"deployments.apps",
			`{"spec":{"template":{"spec":{"affinity":{"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[
				{"topologyKey":"zone","namespaces":["team-a","shared"],"labelSelector":{}}]},
				"podAntiAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":1,"podAffinityTerm":{"topologyKey":"host",
				"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"team-a"}}}}]}}}}}}`,
			`{"spec":{"template":{"spec":{"affinity":{"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[
				{"topologyKey":"zone","namespaces":["team-b","shared"],"labelSelector":{}}]},
				"podAntiAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":1,"podAffinityTerm":{"topologyKey":"host",
				"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"team-b"}}}}]}}}}}}`},
		{"cronjobs.batch",
			`{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"affinity":{"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{"namespaces":["team-a"]}]}}}}}}}}`,
			`{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"affinity":{"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{"namespaces":["team-b"]}]}}}}}}}}`},
		{endpointsKey,
			`{"subsets":[{"addresses":[{"ip":"10.0.0.1","targetRef":{"kind":"Pod","name":"p","namespace":"team-a"}}],"notReadyAddresses":[{"ip":"10.0.0.2","targetRef":{"kind":"Pod","name":"q","namespace":"team-a"}}]}]}`,
			`{"subsets":[{"addresses":[{"ip":"10.0.0.1","targetRef":{"kind":"Pod","name":"p","namespace":"team-b"}}],"notReadyAddresses":[{"ip":"10.0.0.2","targetRef":{"kind":"Pod","name":"q","namespace":"team-b"}}]}]}`},
		{endpointSlicesKey,
			`{"endpoints":[{"addresses":["10.0.0.1"],"targetRef":{"kind":"Pod","name":"p","namespace":"team-a"}}]}`,
			`{"endpoints":[{"addresses":["10.0.0.1"],"targetRef":{"kind":"Pod","name":"p","namespace":"team-b"}}]}`},
		{apiServicesKey,
			`{"spec":{"service":{"name":"metrics","namespace":"team-a"},"group":"metrics.example.com","version":"v1"}}`,
			`{"spec":{"service":{"name":"metrics","namespace":"team-b"},"group":"metrics.example.com","version":"v1"}}`},
		{validatingWebhooksKey,
			`{"webhooks":[{"name":"a.example.com","clientConfig":{"service":{"name":"hook","namespace":"team-a"}}},{"name":"b.example.com","clientConfig":{"url":"https://x"}}]}`,
			`{"webhooks":[{"name":"a.example.com","clientConfig":{"service":{"name":"hook","namespace":"team-b"}}},{"name":"b.example.com","clientConfig":{"url":"https://x"}}]}`},
		{mutatingWebhooksKey,
			`{"webhooks":[{"name":"a.example.com","clientConfig":{"service":{"name":"hook","namespace":"team-a"}}}]}`,
			`{"webhooks":[{"name":"a.example.com","clientConfig":{"service":{"name":"hook","namespace":"team-b"}}}]}`},
		{validatingBindingsKey,
			`{"spec":{"policyName":"p","paramRef":{"name":"params","namespace":"team-a"}}}`,
			`{"spec":{"policyName":"p","paramRef":{"name":"params","namespace":"team-b"}}}`},
		{crdsKey,
			`{"spec":{"conversion":{"strategy":"Webhook","webhook":{"clientConfig":{"service":{"name":"conv","namespace":"team-a"}}}}}}`,
			`{"spec":{"conversion":{"strategy":"Webhook","webhook":{"clientConfig":{"service":{"name":"conv","namespace":"team-b"}}}}}}`},
		{snapshotContentsKey,
			`{"spec":{"volumeSnapshotRef":{"name":"snap","namespace":"team-a"}}}`,
			`{"spec":{"volumeSnapshotRef":{"name":"snap","namespace":"team-b"}}}`},
		// Unknown resources are left alone, whatever their fields say.
		{"widgets.example.com",
			`{"spec":{"namespace":"team-a","subjects":[{"kind":"ServiceAccount","namespace":"team-a"}]}}`,
			`{"spec":{"namespace":"team-a","subjects":[{"kind":"ServiceAccount","namespace":"team-a"}]}}`},
	} {
		t.Run(tc.key, func(t *testing.T) {
			head := `{"apiVersion":"v1","kind":"X","metadata":{"name":"x"},`
			obj := mustObj(t, head+strings.TrimPrefix(tc.in, "{"))
			applyBuiltinActions(tc.key, obj, mapping)
			assertJSON(t, obj, head+strings.TrimPrefix(tc.want, "{"))

			// Without a mapping nothing moves.
			same := mustObj(t, head+strings.TrimPrefix(tc.in, "{"))
			if tc.key != pvsKey {
				applyBuiltinActions(tc.key, same, nil)
				assertJSON(t, same, head+strings.TrimPrefix(tc.in, "{"))
			}
		})
	}
}

// TestMalformedObjectsDoNotPanic: the mapper walks objects of any shape an
// archive may hold.
func TestMalformedObjectsDoNotPanic(t *testing.T) {
	mapping := map[string]string{"team-a": "team-b"}
	for _, body := range []string{
		`{"subjects":"x","spec":"y"}`,
		`{"subjects":[1,"x",null,{"kind":"ServiceAccount","namespace":7}]}`,
		`{"spec":{"claimRef":"x","csi":[1],"azureFile":{"secretNamespace":3},"cephfs":{"secretRef":"s"}}}`,
		`{"spec":{"ingress":[{"from":[{"namespaceSelector":{"matchExpressions":[{"key":"kubernetes.io/metadata.name","values":[1,null]}]}}]}],"egress":"x"}}`,
		`{"spec":{"template":{"spec":{"affinity":{"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{"namespaces":[1,null]},"x"]},
			"podAntiAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":["x",{"podAffinityTerm":"y"}]}}}}}}`,
		`{"webhooks":[{"clientConfig":"x"},null],"secrets":[null,"x"],"subsets":[{"addresses":"x"}],"endpoints":["x"]}`,
		`{"type":"kubernetes.io/service-account-token","data":"x"}`,
	} {
		for _, key := range []string{roleBindingsKey, clusterRoleBindingsKey, pvsKey, pvcsKey, serviceAccountsKey, networkPoliciesKey,
			endpointsKey, endpointSlicesKey, apiServicesKey, validatingWebhooksKey, validatingBindingsKey, crdsKey, snapshotContentsKey,
			"deployments.apps", "cronjobs.batch", podsKey, secretsKey} {
			obj := mustObj(t, `{"apiVersion":"v1","kind":"X","metadata":{"name":"x"},`+strings.TrimPrefix(body, "{"))
			applyBuiltinActions(key, obj, mapping)
		}
	}
}

func TestPrepareSecretLetsTheClusterMakeANewToken(t *testing.T) {
	secret := mustObj(t, `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"app-token","namespace":"team-a","annotations":{
		"kubernetes.io/service-account.name":"app","kubernetes.io/service-account.uid":"old-uid","note":"kept"}},
		"type":"kubernetes.io/service-account-token","data":{"token":"ZXlK","namespace":"dGVhbS1h","ca.crt":"LS0t","extra":"eA=="}}`)
	applyBuiltinActions(secretsKey, secret, map[string]string{"team-a": "team-b"})
	assertJSON(t, secret, `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"app-token","namespace":"team-a","annotations":{
		"kubernetes.io/service-account.name":"app","note":"kept"}},
		"type":"kubernetes.io/service-account-token","data":{"extra":"eA=="}}`)

	opaque := mustObj(t, `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db","annotations":{"kubernetes.io/service-account.uid":"x"}},
		"type":"Opaque","data":{"token":"ZXlK","namespace":"dGVhbS1h"}}`)
	want := opaque.DeepCopy()
	applyBuiltinActions(secretsKey, opaque, map[string]string{"team-a": "team-b"})
	wantJSON, _ := want.MarshalJSON()
	assertJSON(t, opaque, string(wantJSON))
}
