package azure

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeARM is a TLS server speaking Microsoft Entra's client-credentials flow
// and the ARM compute protocol (emulators.md §4b) for the calls the block
// store makes. PUT and DELETE answer 202 with an Azure-AsyncOperation URL
// whose status goes InProgress -> Succeeded over polls; resources take their
// final state when the operation succeeds.
type fakeARM struct {
	t   *testing.T
	srv *httptest.Server

	mu         sync.Mutex
	calls      []armCall
	groups     map[string]bool           // "sub/rg" that exist
	resources  map[string]map[string]any // by lower-cased ARM ID
	operations map[string]*armOperation
	faults     map[string][]armFault // by "METHOD kind"
	next       int

	// tokenStatus, when not 200, makes the token endpoint refuse.
	tokenStatus int
	// opPolls is how many InProgress answers an operation gives.
	opPolls int
	// opError, when set, is the error every operation ends with.
	opError map[string]any
}

type armCall struct {
	method, path, kind string
	query              map[string][]string
	body               map[string]any
	auth               string
}

type armOperation struct {
	polls  int
	effect func()
}

type armFault struct {
	status  int
	code    string
	headers map[string]string
}

const (
	testTenant       = "tenant-1"
	testClientID     = "client-1"
	testSecret       = "s3cret"
	testSubscription = "sub-1"
	fakeToken        = "fake-arm-token"
	apiVersion       = "2025-01-02"
)

func newFakeARM(t *testing.T) *fakeARM {
	t.Helper()
	f := &fakeARM{
		t: t, tokenStatus: http.StatusOK, opPolls: 2,
		groups: map[string]bool{}, resources: map[string]map[string]any{},
		operations: map[string]*armOperation{}, faults: map[string][]armFault{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", f.openIDConfiguration)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", f.token)
	mux.HandleFunc("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/{kind}/{name}", f.resource)
	mux.HandleFunc("GET /operations/{id}", f.operation)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("fake ARM: unexpected %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	})
	// A TLS server: the SDK refuses bearer tokens over plain http.
	f.srv = httptest.NewTLSServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeARM) env() map[string]string {
	return map[string]string{
		SubscriptionIDEnv: testSubscription, TenantIDEnv: testTenant, ClientIDEnv: testClientID,
		ClientSecretEnv: testSecret, ResourceGroupEnv: "ark-group",
	}
}

func diskARMID(sub, rg, name string) string {
	return resourceRef{subscription: sub, resourceGroup: rg, kind: "disks", name: name}.String()
}

func (f *fakeARM) addGroup(sub, rg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.groups[sub+"/"+rg] = true
}

func (f *fakeARM) addDisk(sub, rg, name, sku string, iops int64) string {
	f.addGroup(sub, rg)
	id := diskARMID(sub, rg, name)
	f.mu.Lock()
	defer f.mu.Unlock()
	props := map[string]any{"provisioningState": "Succeeded", "diskState": "Attached", "diskSizeGB": 10,
		"creationData": map[string]any{"createOption": "Empty"}}
	if iops > 0 {
		props["diskIOPSReadWrite"] = iops
	}
	f.resources[strings.ToLower(id)] = map[string]any{
		"id": id, "name": name, "type": "Microsoft.Compute/disks", "location": "eastus",
		"sku": map[string]any{"name": sku}, "properties": props,
	}
	return id
}

func (f *fakeARM) get(id string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.resources[strings.ToLower(id)]
}

func (f *fakeARM) failNext(key string, faults ...armFault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[key] = append(f.faults[key], faults...)
}

func (f *fakeARM) callsTo(method, kind string) []armCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []armCall
	for _, c := range f.calls {
		if c.method == method && c.kind == kind {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeARM) openIDConfiguration(w http.ResponseWriter, r *http.Request) {
	base := f.srv.URL + "/" + r.PathValue("tenant")
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                 base + "/v2.0",
		"authorization_endpoint": base + "/oauth2/v2.0/authorize",
		"token_endpoint":         base + "/oauth2/v2.0/token",
	})
}

// token implements the client-credentials grant for the one service
// principal of the test.
func (f *fakeARM) token(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f.mu.Lock()
	status := f.tokenStatus
	f.mu.Unlock()
	form := r.PostForm
	if r.PathValue("tenant") != testTenant || form.Get("client_id") != testClientID || form.Get("grant_type") != "client_credentials" {
		f.t.Errorf("fake Entra: token request for tenant %s, form %v", r.PathValue("tenant"), form)
	}
	if !strings.Contains(form.Get("scope"), "https://management.core.windows.net//.default") {
		f.t.Errorf("fake Entra: scope %q is not ARM's", form.Get("scope"))
	}
	if status != http.StatusOK || form.Get("client_secret") != testSecret {
		writeJSON(w, http.StatusUnauthorized, map[string]any{
			"error":             "invalid_client",
			"error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
			"error_codes":       []int{7000215},
		})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": fakeToken})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeARMError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": message}})
}

func (f *fakeARM) resource(w http.ResponseWriter, r *http.Request) {
	kind := r.PathValue("kind")
	var body map[string]any
	if raw, _ := io.ReadAll(r.Body); len(raw) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			f.t.Errorf("fake ARM: %s %s body is not JSON: %v", r.Method, r.URL.Path, err)
		}
	}
	if v := r.URL.Query().Get("api-version"); v != apiVersion {
		f.t.Errorf("fake ARM: api-version=%q, want %s", v, apiVersion)
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, armCall{method: r.Method, path: r.URL.Path, kind: kind, query: r.URL.Query(), body: body,
		auth: r.Header.Get("Authorization")})
	if r.Header.Get("Authorization") != "Bearer "+fakeToken {
		writeARMError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "The access token is invalid.")
		return
	}
	if queue := f.faults[r.Method+" "+kind]; len(queue) > 0 {
		f.faults[r.Method+" "+kind] = queue[1:]
		for k, v := range queue[0].headers {
			w.Header().Set(k, v)
		}
		writeARMError(w, queue[0].status, queue[0].code, "injected "+queue[0].code)
		return
	}
	sub, rg, name := r.PathValue("sub"), r.PathValue("rg"), r.PathValue("name")
	if !f.groups[sub+"/"+rg] {
		writeARMError(w, http.StatusNotFound, "ResourceGroupNotFound", fmt.Sprintf("Resource group '%s' could not be found.", rg))
		return
	}
	id := resourceRef{subscription: sub, resourceGroup: rg, kind: kind, name: name}.String()
	key := strings.ToLower(id)

	switch r.Method {
	case http.MethodGet:
		res, ok := f.resources[key]
		if !ok {
			writeARMError(w, http.StatusNotFound, "ResourceNotFound",
				fmt.Sprintf("The Resource 'Microsoft.Compute/%s/%s' under resource group '%s' was not found.", kind, name, rg))
			return
		}
		writeJSON(w, http.StatusOK, res)
	case http.MethodPut:
		f.put(w, kind, id, name, body)
	case http.MethodDelete:
		if _, ok := f.resources[key]; !ok {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		f.accept(w, func() { delete(f.resources, key) })
	default:
		writeARMError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method)
	}
}

func (f *fakeARM) put(w http.ResponseWriter, kind, id, name string, body map[string]any) {
	props, _ := body["properties"].(map[string]any)
	creation, _ := props["creationData"].(map[string]any)
	if creation["createOption"] != "Copy" {
		writeARMError(w, http.StatusBadRequest, "InvalidParameter", "only createOption Copy is expected")
		return
	}
	source, _ := creation["sourceResourceId"].(string)
	src, ok := f.resources[strings.ToLower(source)]
	wantSourceKind := map[string]string{"snapshots": "Microsoft.Compute/disks", "disks": "Microsoft.Compute/snapshots"}[kind]
	if !ok || src["type"] != wantSourceKind {
		writeARMError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("Source resource '%s' was not found.", source))
		return
	}
	res := map[string]any{"id": id, "name": name, "type": "Microsoft.Compute/" + kind, "location": body["location"]}
	for _, field := range []string{"tags", "sku", "zones"} {
		if v, ok := body[field]; ok {
			res[field] = v
		}
	}
	resProps := map[string]any{"creationData": creation, "provisioningState": "Creating", "diskSizeGB": 10}
	if v, ok := props["diskIOPSReadWrite"]; ok {
		resProps["diskIOPSReadWrite"] = v
	}
	res["properties"] = resProps
	f.resources[strings.ToLower(id)] = res
	f.accept(w, func() { resProps["provisioningState"] = "Succeeded" })
}

// accept answers 202 with an Azure-AsyncOperation to poll.
func (f *fakeARM) accept(w http.ResponseWriter, effect func()) {
	f.next++
	opID := fmt.Sprintf("op-%d", f.next)
	f.operations[opID] = &armOperation{effect: effect}
	w.Header().Set("Azure-AsyncOperation", f.srv.URL+"/operations/"+opID+"?api-version="+apiVersion)
	w.WriteHeader(http.StatusAccepted)
}

func (f *fakeARM) operation(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, armCall{method: r.Method, path: r.URL.Path, kind: "operations", auth: r.Header.Get("Authorization")})
	op, ok := f.operations[r.PathValue("id")]
	if !ok {
		writeARMError(w, http.StatusNotFound, "NotFound", "no such operation")
		return
	}
	op.polls++
	switch {
	case op.polls <= f.opPolls:
		writeJSON(w, http.StatusOK, map[string]any{"name": r.PathValue("id"), "status": "InProgress", "startTime": "2026-11-21T10:00:00Z"})
	case f.opError != nil:
		writeJSON(w, http.StatusOK, map[string]any{"name": r.PathValue("id"), "status": "Failed", "error": f.opError})
	default:
		if op.effect != nil {
			op.effect()
			op.effect = nil
		}
		writeJSON(w, http.StatusOK, map[string]any{"name": r.PathValue("id"), "status": "Succeeded",
			"startTime": "2026-11-21T10:00:00Z", "endTime": "2026-11-21T10:00:05Z"})
	}
}
