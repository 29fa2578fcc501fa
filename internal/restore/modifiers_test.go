package restore

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

const modifierRules = `
version: v1
resourceModifierRules:
- conditions:
    groupResource: persistentvolumeclaims
    resourceNameRegex: "^db-.*$"
    namespaces: [shop]
  patches:
  - operation: replace
    path: /spec/storageClassName
    value: premium
- conditions:
    groupResource: deployments.apps
    labelSelector:
      matchLabels: {tier: front}
  patches:
  - operation: test
    path: /spec/replicas
    value: "5"
  - operation: replace
    path: /spec/replicas
    value: "1"
  strategicPatches:
  - patchData: |
      spec:
        template:
          spec:
            containers:
            - name: web
              image: mirror.example.com/web:1
- conditions:
    groupResource: "*"
  mergePatches:
  - patchData: '{"metadata": {"annotations": {"old-cluster": null, "migrated": "yes"}}}'
`

func TestModifiersApplyMatchingRulesInOrder(t *testing.T) {
	m, problems := ParseModifiers("rules", map[string]string{"rules.yaml": modifierRules})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	pvc := mustObj(t, `{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"db-0","namespace":"shop","annotations":{"old-cluster":"a"}},"spec":{"storageClassName":"standard"}}`)
	if err := m.Apply("persistentvolumeclaims", pvc); err != nil {
		t.Fatal(err)
	}
	assertJSON(t, pvc, `{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"db-0","namespace":"shop","annotations":{"migrated":"yes"}},"spec":{"storageClassName":"premium"}}`)

	// Another namespace or name: only the catch-all rule.
	other := mustObj(t, `{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"db-0","namespace":"dev"},"spec":{"storageClassName":"standard"}}`)
	if err := m.Apply("persistentvolumeclaims", other); err != nil {
		t.Fatal(err)
	}
	assertJSON(t, other, `{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"db-0","namespace":"dev","annotations":{"migrated":"yes"}},"spec":{"storageClassName":"standard"}}`)

	// The test operation guards the JSON Patch; the strategic patch merges
	// the container by name, keeping its other fields and the other container.
	deploy := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"shop","labels":{"tier":"front"}},"spec":{"replicas":%d,"template":{"spec":{"containers":[{"name":"web","image":"docker.io/web:1","ports":[{"containerPort":80}]},{"name":"sidecar","image":"proxy:2"}]}}}}`
	wantDeploy := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"shop","labels":{"tier":"front"},"annotations":{"migrated":"yes"}},"spec":{"replicas":%d,"template":{"spec":{"containers":[{"name":"web","image":"mirror.example.com/web:1","ports":[{"containerPort":80}]},{"name":"sidecar","image":"proxy:2"}]}}}}`
	for _, c := range []struct{ before, after int }{{5, 1}, {3, 3}} {
		d := mustObj(t, strings.Replace(deploy, "%d", itoa(c.before), 1))
		if err := m.Apply("deployments.apps", d); err != nil {
			t.Fatal(err)
		}
		assertJSON(t, d, strings.Replace(wantDeploy, "%d", itoa(c.after), 1))
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestModifierFailuresAreErrorsOfTheItem(t *testing.T) {
	m, problems := ParseModifiers("rules", map[string]string{"r": `
version: v1
resourceModifierRules:
- conditions: {groupResource: widgets.example.com}
  strategicPatches: [{patchData: '{"spec": {"size": 1}}'}]
- conditions: {groupResource: configmaps}
  patches: [{operation: remove, path: /data/missing}]
- conditions: {groupResource: secrets}
  patches: [{operation: replace, path: /metadata/name, value: other}]
`})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	for _, c := range []struct{ key, obj, want string }{
		{"widgets.example.com", `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"}}`, "resource modifier rule 0: strategic merge patches need a built-in kind, and Widget is not one: use mergePatches for it"},
		{"configmaps", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{}}`, "resource modifier rule 1: JSON Patch:"},
		{"secrets", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"}}`, "resource modifier rule 2 changes the object's name or namespace"},
	} {
		err := m.Apply(c.key, mustObj(t, c.obj))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.key, err, c.want)
		}
	}
}

func TestInvalidModifierRulesNameTheirIndexAndFix(t *testing.T) {
	_, problems := ParseModifiers("rules", map[string]string{"r": `
version: v2
resourceModifierRules:
- conditions: {groupResource: persistentvolumeclaims}
  patches: [{operation: replace, path: /spec/storageClassName, value: x}]
- conditions: {groupResource: "PVC", resourceNameRegex: "db-(", namespaces: ["Bad_NS"]}
  patches: [{operation: frobnicate, path: /x}]
- conditions: {groupResource: "", labelSelector: {matchExpressions: [{key: a, operator: Nope}]}}
- conditions: {groupResource: configmaps}
  mergePatches: [{patchData: "[1, 2]"}]
  patches: [{operation: add, path: /data/x}]
`})
	want := []string{
		`resource modifier ConfigMap "rules": version is "v2": set version: v1`,
		`resourceModifierRules[1]: conditions.groupResource "PVC" is not a resource name`,
		`resourceModifierRules[1]: conditions.resourceNameRegex "db-(" is not a valid regular expression`,
		`resourceModifierRules[1]: conditions.namespaces: "Bad_NS" is not a namespace name`,
		`resourceModifierRules[1]: patches[0].operation "frobnicate" is not a JSON Patch operation: use one of add, remove, replace, copy, move, test`,
		`resourceModifierRules[2]: conditions.groupResource is empty`,
		`resourceModifierRules[2]: conditions.labelSelector is invalid`,
		`resourceModifierRules[2]: the rule has no patches`,
		`resourceModifierRules[3]: patches[0] (add /data/x) needs a value`,
		`resourceModifierRules[3]: mergePatches[0].patchData is not an object`,
	}
	if len(problems) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(problems), len(want), strings.Join(problems, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(problems[i], w) {
			t.Errorf("problem %d:\n got  %s\n want %s", i, problems[i], w)
		}
	}
	for data, w := range map[string]string{
		"":                               "must hold exactly one key",
		"version: v1\nunknownField: 1\n": `unknown field "unknownField"`,
		"version: v1\nresourceModifierRules: []\n": "has no resourceModifierRules",
	} {
		d := map[string]string{"r": data}
		if data == "" {
			d = map[string]string{"a": "", "b": ""}
		}
		if _, problems := ParseModifiers("rules", d); len(problems) != 1 || !strings.Contains(problems[0], w) {
			t.Errorf("%q: %q, want %q", data, problems, w)
		}
	}
}

func TestPatchValueReadsVeleroStrings(t *testing.T) {
	for raw, want := range map[string]string{
		`"3"`: `3`, `"true"`: `true`, `"null"`: `null`, `"\"3\""`: `"3"`, `"premium"`: `"premium"`,
		`"{\"a\":1}"`: `{"a":1}`, `4`: `4`, `{"b":2}`: `{"b":2}`, `"10000000000000001"`: `10000000000000001`,
	} {
		got := mustJSON(t, patchValue([]byte(raw)))
		if got != want {
			t.Errorf("value %s: got %s, want %s", raw, got, want)
		}
	}
}
