package restore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/validation"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// Resource modifiers are rules, kept in a ConfigMap, that change items of a
// restore before they are created: a StorageClass renamed, an image moved
// to another registry, a replica count lowered. The format is Velero's, so
// rules written for it work here:
//
//	version: v1
//	resourceModifierRules:
//	- conditions:
//	    groupResource: deployments.apps
//	    resourceNameRegex: "^web-.*$"
//	    namespaces: [shop]
//	    labelSelector: {matchLabels: {tier: front}}
//	  patches:            # JSON Patch (RFC 6902)
//	  - operation: replace
//	    path: /spec/replicas
//	    value: "1"
//	  mergePatches:       # JSON Merge Patch (RFC 7386)
//	  - patchData: '{"metadata": {"annotations": {"team": null}}}'
//	  strategicPatches:   # Kubernetes strategic merge patch (built-in kinds)
//	  - patchData: '{"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "mirror.example.com/web:1"}]}}}}'
//
// The patch libraries are the ones the API server itself uses:
// evanphx/json-patch for JSON Patch and JSON Merge Patch, apimachinery's
// strategicpatch (with the kinds of client-go's scheme) for strategic merge
// patches.

// ModifierRulesVersion is the only version of the rules' format.
const ModifierRulesVersion = "v1"

// Modifiers are parsed, valid resource modifier rules.
type Modifiers struct {
	rules []modifierRule
}

type modifierRule struct {
	index         int
	groupResource string // an archive resource name, or "*"
	namespaces    []string
	name          *regexp.Regexp
	selector      labels.Selector
	jsonPatch     jsonpatch.Patch
	mergePatches  [][]byte
	strategic     [][]byte
}

// The YAML document, as written.
type modifierFile struct {
	Version string     `json:"version"`
	Rules   []ruleSpec `json:"resourceModifierRules"`
}

type ruleSpec struct {
	Conditions       conditionsSpec `json:"conditions"`
	Patches          []jsonPatchOp  `json:"patches,omitempty"`
	MergePatches     []patchData    `json:"mergePatches,omitempty"`
	StrategicPatches []patchData    `json:"strategicPatches,omitempty"`
}

type conditionsSpec struct {
	GroupResource     string                `json:"groupResource"`
	ResourceNameRegex string                `json:"resourceNameRegex,omitempty"`
	Namespaces        []string              `json:"namespaces,omitempty"`
	LabelSelector     *metav1.LabelSelector `json:"labelSelector,omitempty"`
}

type jsonPatchOp struct {
	Operation string          `json:"operation"`
	From      string          `json:"from,omitempty"`
	Path      string          `json:"path"`
	Value     json.RawMessage `json:"value,omitempty"`
}

type patchData struct {
	PatchData string `json:"patchData"`
}

var groupResourcePattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// ParseModifiers reads the rules from a ConfigMap's data, which must hold
// one key (any name) whose value is the YAML document. It returns every
// problem found, each naming the rule by its index in resourceModifierRules
// and what to fix; rules are usable only when there is none.
func ParseModifiers(configMap string, data map[string]string) (*Modifiers, []string) {
	if len(data) != 1 {
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return nil, []string{fmt.Sprintf("resource modifier ConfigMap %q must hold exactly one key with the rules' YAML, it has %d (%s): create it with 'kubectl -n <ark namespace> create configmap %s --from-file=rules.yaml'",
			configMap, len(data), strings.Join(keys, ", "), configMap)}
	}
	var doc string
	for _, v := range data {
		doc = v
	}
	var file modifierFile
	if err := yaml.UnmarshalStrict([]byte(doc), &file); err != nil {
		return nil, []string{fmt.Sprintf("resource modifier ConfigMap %q is not a valid rules document: %v (see docs/restores.md#resource-modifiers for the format)", configMap, err)}
	}
	var problems []string
	if file.Version != ModifierRulesVersion {
		problems = append(problems, fmt.Sprintf("resource modifier ConfigMap %q: version is %q: set version: %s", configMap, file.Version, ModifierRulesVersion))
	}
	if len(file.Rules) == 0 {
		problems = append(problems, fmt.Sprintf("resource modifier ConfigMap %q has no resourceModifierRules: add at least one rule, or restore without --resource-modifier-configmap", configMap))
	}
	m := &Modifiers{}
	for i, spec := range file.Rules {
		rule, errs := parseRule(i, spec)
		for _, e := range errs {
			problems = append(problems, fmt.Sprintf("resource modifier ConfigMap %q: resourceModifierRules[%d]: %s", configMap, i, e))
		}
		if len(errs) == 0 {
			m.rules = append(m.rules, rule)
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return m, nil
}

func parseRule(index int, spec ruleSpec) (modifierRule, []string) {
	var errs []string
	c := spec.Conditions
	rule := modifierRule{index: index, groupResource: c.GroupResource, namespaces: c.Namespaces, selector: labels.Everything()}
	switch {
	case c.GroupResource == "":
		errs = append(errs, `conditions.groupResource is empty: name the resource as resource[.group], e.g. "persistentvolumeclaims" or "deployments.apps" ("*" for all)`)
	case c.GroupResource != "*" && !groupResourcePattern.MatchString(c.GroupResource):
		errs = append(errs, fmt.Sprintf(`conditions.groupResource %q is not a resource name: write the plural resource in lowercase, with its group unless it is a core one, e.g. "persistentvolumeclaims" or "deployments.apps" ("*" for all)`, c.GroupResource))
	}
	if c.ResourceNameRegex != "" {
		re, err := regexp.Compile(c.ResourceNameRegex)
		if err != nil {
			errs = append(errs, fmt.Sprintf("conditions.resourceNameRegex %q is not a valid regular expression: %v", c.ResourceNameRegex, err))
		}
		rule.name = re
	}
	for _, ns := range c.Namespaces {
		if problems := validation.IsDNS1123Label(ns); len(problems) > 0 {
			errs = append(errs, fmt.Sprintf("conditions.namespaces: %q is not a namespace name (%s)", ns, problems[0]))
		}
	}
	if c.LabelSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
		if err != nil {
			errs = append(errs, fmt.Sprintf("conditions.labelSelector is invalid: %v", err))
		}
		rule.selector = sel
	}
	if len(spec.Patches)+len(spec.MergePatches)+len(spec.StrategicPatches) == 0 {
		errs = append(errs, "the rule has no patches: add patches (JSON Patch), mergePatches or strategicPatches")
	}
	if len(spec.Patches) > 0 {
		p, err := jsonPatchOf(spec.Patches)
		if err != nil {
			errs = append(errs, err.Error())
		}
		rule.jsonPatch = p
	}
	for i, mp := range spec.MergePatches {
		data, err := patchObject(mp.PatchData)
		if err != nil {
			errs = append(errs, fmt.Sprintf("mergePatches[%d].patchData %v", i, err))
		}
		rule.mergePatches = append(rule.mergePatches, data)
	}
	for i, sp := range spec.StrategicPatches {
		data, err := patchObject(sp.PatchData)
		if err != nil {
			errs = append(errs, fmt.Sprintf("strategicPatches[%d].patchData %v", i, err))
		}
		rule.strategic = append(rule.strategic, data)
	}
	return rule, errs
}

var jsonPatchOperations = []string{"add", "remove", "replace", "copy", "move", "test"}

// jsonPatchOf builds an RFC 6902 patch from the rule's operations.
func jsonPatchOf(ops []jsonPatchOp) (jsonpatch.Patch, error) {
	var doc []map[string]any
	for i, op := range ops {
		if !slices.Contains(jsonPatchOperations, op.Operation) {
			return nil, fmt.Errorf("patches[%d].operation %q is not a JSON Patch operation: use one of %s", i, op.Operation, strings.Join(jsonPatchOperations, ", "))
		}
		if !strings.HasPrefix(op.Path, "/") {
			return nil, fmt.Errorf("patches[%d].path %q is not a JSON pointer: write it like /spec/replicas", i, op.Path)
		}
		entry := map[string]any{"op": op.Operation, "path": op.Path}
		switch op.Operation {
		case "copy", "move":
			if !strings.HasPrefix(op.From, "/") {
				return nil, fmt.Errorf("patches[%d] (%s) needs from, a JSON pointer such as /metadata/labels/app", i, op.Operation)
			}
			entry["from"] = op.From
		case "add", "replace", "test":
			if op.Value == nil {
				return nil, fmt.Errorf("patches[%d] (%s %s) needs a value", i, op.Operation, op.Path)
			}
			entry["value"] = patchValue(op.Value)
		}
		doc = append(doc, entry)
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	p, err := jsonpatch.DecodePatch(data)
	if err != nil {
		return nil, fmt.Errorf("patches: %v", err)
	}
	return p, nil
}

// patchValue reads a JSON Patch value as Velero does: a YAML string holding
// a number, true, false, null, or a JSON object or array stands for that
// value (value: "3" sets the number 3); a string in double quotes stands
// for the string inside (value: '"3"' sets the string "3"). Other values
// are taken as they are.
func patchValue(raw json.RawMessage) any {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // 10000000000000001 stays that number
	if err := dec.Decode(&v); err != nil {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		return v
	}
	if len(s) >= 2 && strings.HasPrefix(s, `"`) && strings.HasSuffix(s, `"`) {
		if unquoted, err := strconv.Unquote(s); err == nil {
			return unquoted
		}
		return s[1 : len(s)-1]
	}
	if s == "null" {
		return nil
	}
	if b, err := strconv.ParseBool(s); err == nil && (s == "true" || s == "false") {
		return b
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return json.Number(s)
	}
	if t := strings.TrimSpace(s); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		var structured any
		if json.Unmarshal([]byte(t), &structured) == nil {
			return structured
		}
	}
	return s
}

// patchObject turns patchData (YAML or JSON) into the JSON of an object.
func patchObject(data string) ([]byte, error) {
	if strings.TrimSpace(data) == "" {
		return nil, errors.New("is empty: write the patch as a JSON or YAML object, e.g. {\"spec\": {\"replicas\": 1}}")
	}
	js, err := yaml.YAMLToJSON([]byte(data))
	if err != nil {
		return nil, fmt.Errorf("is not valid JSON or YAML: %v", err)
	}
	if t := bytes.TrimSpace(js); len(t) == 0 || t[0] != '{' {
		return nil, errors.New("is not an object: write the patch as a JSON or YAML object, e.g. {\"spec\": {\"replicas\": 1}}")
	}
	return js, nil
}

// matches reports whether the rule applies to obj, an item of the archive
// resource key in its target namespace.
func (r modifierRule) matches(key string, obj *unstructured.Unstructured) bool {
	if r.groupResource != "*" && r.groupResource != key {
		return false
	}
	if len(r.namespaces) > 0 && !slices.Contains(r.namespaces, obj.GetNamespace()) {
		return false
	}
	if r.name != nil && !r.name.MatchString(obj.GetName()) {
		return false
	}
	return r.selector.Matches(labels.Set(obj.GetLabels()))
}

// Apply changes obj, an item of the archive resource key, as every matching
// rule says, in the rules' order. Within a rule the JSON Patch comes first,
// then the merge patches, then the strategic ones. A JSON Patch whose test
// operation fails is skipped (that is what test is for); any other failure
// is an error of the item. A rule may not rename or move the object.
func (m *Modifiers) Apply(key string, obj *unstructured.Unstructured) error {
	if m == nil {
		return nil
	}
	name, namespace := obj.GetName(), obj.GetNamespace()
	for _, rule := range m.rules {
		if !rule.matches(key, obj) {
			continue
		}
		doc, err := json.Marshal(obj.Object)
		if err != nil {
			return err
		}
		if doc, err = rule.apply(doc, obj); err != nil {
			return fmt.Errorf("resource modifier rule %d: %w", rule.index, err)
		}
		patched := map[string]any{}
		if err := json.Unmarshal(doc, &patched); err != nil {
			return fmt.Errorf("resource modifier rule %d: the patched object is not valid JSON: %w", rule.index, err)
		}
		obj.Object = patched
		if obj.GetName() != name || obj.GetNamespace() != namespace {
			return fmt.Errorf("resource modifier rule %d changes the object's name or namespace, which a modifier may not do (use --namespace-mappings to move objects)", rule.index)
		}
	}
	return nil
}

func (r modifierRule) apply(doc []byte, obj *unstructured.Unstructured) ([]byte, error) {
	if r.jsonPatch != nil {
		patched, err := r.jsonPatch.Apply(doc)
		switch {
		case errors.Is(err, jsonpatch.ErrTestFailed):
			// The rule's test says this object is not one to change.
		case err != nil:
			return nil, fmt.Errorf("JSON Patch: %w", err)
		default:
			doc = patched
		}
	}
	for i, mp := range r.mergePatches {
		patched, err := jsonpatch.MergePatch(doc, mp)
		if err != nil {
			return nil, fmt.Errorf("mergePatches[%d]: %w", i, err)
		}
		doc = patched
	}
	if len(r.strategic) == 0 {
		return doc, nil
	}
	gvk := obj.GroupVersionKind()
	typed, err := clientgoscheme.Scheme.New(gvk)
	if err != nil {
		return nil, fmt.Errorf("strategic merge patches need a built-in kind, and %s is not one: use mergePatches for it", gvk.Kind)
	}
	for i, sp := range r.strategic {
		patched, err := strategicpatch.StrategicMergePatch(doc, sp, typed)
		if err != nil {
			return nil, fmt.Errorf("strategicPatches[%d]: %w", i, err)
		}
		doc = patched
	}
	return doc, nil
}
