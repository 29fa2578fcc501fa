package gcp

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeGCE speaks the Compute API v1 JSON protocol (emulators.md §4b) for the
// calls the block store makes, plus the OAuth token endpoint a service
// account key points at. Mutations return operations that go PENDING ->
// RUNNING -> DONE over operations.wait calls and take effect when DONE;
// created disks go CREATING -> READY over disks.get calls.
type fakeGCE struct {
	t   *testing.T
	srv *httptest.Server
	key *rsa.PrivateKey

	mu         sync.Mutex
	calls      []gceCall
	disks      map[string]map[string]any // by "project/zone/name"
	snapshots  map[string]map[string]any // by "project/name"
	operations map[string]*fakeOperation
	faults     map[string][]gceFault
	tokenFault *gceFault
	// insertError, when set, is the error of every disks.insert operation.
	insertError map[string]any
	next        int

	// opSteps is how many operations.wait answers an operation takes to be
	// DONE; creatingPolls how many disks.get answers say CREATING.
	opSteps, creatingPolls int
}

type gceCall struct {
	route, method, path string
	query               map[string][]string
	body                map[string]any
	auth                string
}

type fakeOperation struct {
	body   map[string]any
	steps  int
	effect func() map[string]any // runs at DONE; a non-nil result is the operation's error
}

type gceFault struct {
	status  int
	reason  string
	message string
}

const fakeAccessToken = "ya29.fake-access-token"

func newFakeGCE(t *testing.T) *fakeGCE {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeGCE{
		t: t, key: key,
		disks: map[string]map[string]any{}, snapshots: map[string]map[string]any{},
		operations: map[string]*fakeOperation{}, faults: map[string][]gceFault{},
		opSteps: 2, creatingPolls: 1,
	}
	mux := http.NewServeMux()
	handle := func(pattern, route string, h func(w http.ResponseWriter, r *http.Request, body map[string]any)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) { f.serve(w, r, route, h) })
	}
	handle("GET /compute/v1/projects/{p}/zones/{z}/disks/{d}", "disks.get", f.getDisk)
	handle("POST /compute/v1/projects/{p}/zones/{z}/disks", "disks.insert", f.insertDisk)
	handle("POST /compute/v1/projects/{p}/zones/{z}/disks/{d}/createSnapshot", "disks.createSnapshot", f.createSnapshot)
	handle("GET /compute/v1/projects/{p}/global/snapshots/{s}", "snapshots.get", f.getSnapshot)
	handle("DELETE /compute/v1/projects/{p}/global/snapshots/{s}", "snapshots.delete", f.deleteSnapshot)
	handle("POST /compute/v1/projects/{p}/zones/{z}/operations/{op}/wait", "zoneOperations.wait", f.waitOperation)
	handle("POST /compute/v1/projects/{p}/global/operations/{op}/wait", "globalOperations.wait", f.waitOperation)
	mux.HandleFunc("POST /token", f.token)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("fake GCE: unexpected %s %s", r.Method, r.URL)
		f.writeError(w, gceFault{http.StatusNotFound, "notFound", "unexpected request"})
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGCE) computeURL() string { return f.srv.URL + "/compute/v1/" }

// writeCredentials writes a service account key whose token_uri is the fake
// and points GOOGLE_APPLICATION_CREDENTIALS at it, as the Ark deployment does.
func (f *fakeGCE) writeCredentials(t *testing.T) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(f.key)
	if err != nil {
		t.Fatal(err)
	}
	sa, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "my-project", "private_key_id": "key-1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "heptio-ark@my-project.iam.gserviceaccount.com", "client_id": "1234",
		"token_uri": f.srv.URL + "/token",
	})
	path := filepath.Join(t.TempDir(), "cloud")
	if err := os.WriteFile(path, sa, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", path)
}

func (f *fakeGCE) url(path string) string { return f.srv.URL + "/compute/v1/" + path }

func (f *fakeGCE) addDisk(project, zone, name, diskType string, iops int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := map[string]any{
		"kind": "compute#disk", "id": "1001", "name": name, "sizeGb": "10", "status": "READY",
		"zone":     f.url("projects/" + project + "/zones/" + zone),
		"type":     f.url("projects/" + project + "/zones/" + zone + "/diskTypes/" + diskType),
		"selfLink": f.url("projects/" + project + "/zones/" + zone + "/disks/" + name),
	}
	if iops > 0 {
		d["provisionedIops"] = fmt.Sprint(iops)
	}
	f.disks[project+"/"+zone+"/"+name] = d
}

func (f *fakeGCE) failNext(route string, faults ...gceFault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[route] = append(f.faults[route], faults...)
}

func (f *fakeGCE) callsTo(route string) []gceCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []gceCall
	for _, c := range f.calls {
		if c.route == route {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeGCE) allCalls() []gceCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]gceCall(nil), f.calls...)
}

func (f *fakeGCE) snapshot(project, name string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snapshots[project+"/"+name]
}

func (f *fakeGCE) disk(project, zone, name string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.disks[project+"/"+zone+"/"+name]
}

func (f *fakeGCE) serve(w http.ResponseWriter, r *http.Request, route string,
	h func(http.ResponseWriter, *http.Request, map[string]any)) {
	var body map[string]any
	if r.Method == http.MethodPost {
		raw, _ := io.ReadAll(r.Body)
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &body); err != nil {
				f.t.Errorf("fake GCE: %s body is not JSON: %v", route, err)
			}
		}
	}
	q := r.URL.Query()
	if q.Get("alt") != "json" || q.Get("prettyPrint") != "false" {
		f.t.Errorf("fake GCE: %s without alt=json&prettyPrint=false: %s", route, r.URL.RawQuery)
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, gceCall{route: route, method: r.Method, path: r.URL.Path, query: q, body: body,
		auth: r.Header.Get("Authorization")})
	if auth := r.Header.Get("Authorization"); auth != "Bearer "+fakeAccessToken {
		f.writeError(w, gceFault{http.StatusUnauthorized, "authError", "Request had invalid authentication credentials."})
		return
	}
	if queue := f.faults[route]; len(queue) > 0 {
		f.faults[route] = queue[1:]
		f.writeError(w, queue[0])
		return
	}
	h(w, r, body)
}

// token checks the service account's signed JWT assertion and hands out the
// access token the Compute handlers require.
func (f *fakeGCE) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	fault := f.tokenFault
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if fault != nil {
		w.WriteHeader(fault.status)
		fmt.Fprintf(w, `{"error":%q,"error_description":%q}`, fault.reason, fault.message)
		return
	}
	if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		f.t.Errorf("fake GCE token: grant_type %q", r.PostForm.Get("grant_type"))
	}
	parts := strings.Split(r.PostForm.Get("assertion"), ".")
	if len(parts) != 3 {
		f.t.Errorf("fake GCE token: assertion is not a JWT")
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&f.key.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
		f.t.Errorf("fake GCE token: JWT signature does not verify with the service account key: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	claimsJSON, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	_ = json.Unmarshal(claimsJSON, &claims)
	if claims["iss"] != "heptio-ark@my-project.iam.gserviceaccount.com" || !strings.Contains(fmt.Sprint(claims["scope"]), "auth/compute") {
		f.t.Errorf("fake GCE token: claims %v", claims)
	}
	fmt.Fprintf(w, `{"access_token":%q,"expires_in":3600,"token_type":"Bearer"}`, fakeAccessToken)
}

func (f *fakeGCE) writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeGCE) writeError(w http.ResponseWriter, e gceFault) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"code": e.status, "message": e.message,
		"errors": []any{map[string]any{"message": e.message, "domain": "global", "reason": e.reason}},
	}})
}

func (f *fakeGCE) notFound(w http.ResponseWriter, what string) {
	f.writeError(w, gceFault{http.StatusNotFound, "notFound", "The resource '" + what + "' was not found"})
}

// newOperation registers an operation whose effect runs when it is DONE.
func (f *fakeGCE) newOperation(project, zone, opType, target string, effect func() map[string]any) map[string]any {
	f.next++
	name := fmt.Sprintf("operation-%d", f.next)
	scope := "projects/" + project + "/global"
	if zone != "" {
		scope = "projects/" + project + "/zones/" + zone
	}
	op := map[string]any{
		"kind": "compute#operation", "id": fmt.Sprint(9000 + f.next), "name": name, "operationType": opType,
		"targetLink": f.url(target), "status": "PENDING", "progress": 0,
		"selfLink": f.url(scope + "/operations/" + name),
	}
	if zone != "" {
		op["zone"] = f.url("projects/" + project + "/zones/" + zone)
	}
	f.operations[name] = &fakeOperation{body: op, effect: effect}
	return op
}

func (f *fakeGCE) waitOperation(w http.ResponseWriter, r *http.Request, _ map[string]any) {
	op, ok := f.operations[r.PathValue("op")]
	if !ok {
		f.notFound(w, r.URL.Path)
		return
	}
	op.steps++
	switch {
	case op.body["status"] == "DONE":
	case op.steps >= f.opSteps:
		op.body["status"], op.body["progress"] = "DONE", 100
		if opErr := op.effect(); opErr != nil {
			op.body["error"] = map[string]any{"errors": []any{opErr}}
			op.body["httpErrorStatusCode"] = 400
		}
	default:
		op.body["status"] = "RUNNING"
	}
	f.writeJSON(w, op.body)
}

func (f *fakeGCE) getDisk(w http.ResponseWriter, r *http.Request, _ map[string]any) {
	key := r.PathValue("p") + "/" + r.PathValue("z") + "/" + r.PathValue("d")
	d, ok := f.disks[key]
	if !ok {
		f.notFound(w, "projects/"+r.PathValue("p")+"/zones/"+r.PathValue("z")+"/disks/"+r.PathValue("d"))
		return
	}
	if d["status"] == "CREATING" {
		polls, _ := d["_polls"].(int)
		d["_polls"] = polls + 1
		if polls+1 > f.creatingPolls {
			d["status"] = "READY"
		}
	}
	out := map[string]any{}
	for k, v := range d {
		if !strings.HasPrefix(k, "_") {
			out[k] = v
		}
	}
	f.writeJSON(w, out)
}

func (f *fakeGCE) createSnapshot(w http.ResponseWriter, r *http.Request, body map[string]any) {
	p, z, d := r.PathValue("p"), r.PathValue("z"), r.PathValue("d")
	if r.URL.Query().Get("requestId") == "" {
		f.t.Errorf("fake GCE: disks.createSnapshot without requestId")
	}
	disk, ok := f.disks[p+"/"+z+"/"+d]
	if !ok {
		f.notFound(w, "projects/"+p+"/zones/"+z+"/disks/"+d)
		return
	}
	name, _ := body["name"].(string)
	op := f.newOperation(p, z, "createSnapshot", "projects/"+p+"/zones/"+z+"/disks/"+d, func() map[string]any {
		snap := map[string]any{
			"kind": "compute#snapshot", "id": "2001", "name": name, "status": "READY", "diskSizeGb": disk["sizeGb"],
			"sourceDisk": disk["selfLink"], "description": body["description"], "labelFingerprint": "42WmSpB8rSM=",
			"selfLink": f.url("projects/" + p + "/global/snapshots/" + name),
		}
		if labels, ok := body["labels"]; ok {
			snap["labels"] = labels
		}
		f.snapshots[p+"/"+name] = snap
		return nil
	})
	f.writeJSON(w, op)
}

func (f *fakeGCE) getSnapshot(w http.ResponseWriter, r *http.Request, _ map[string]any) {
	s, ok := f.snapshots[r.PathValue("p")+"/"+r.PathValue("s")]
	if !ok {
		f.notFound(w, "projects/"+r.PathValue("p")+"/global/snapshots/"+r.PathValue("s"))
		return
	}
	f.writeJSON(w, s)
}

func (f *fakeGCE) deleteSnapshot(w http.ResponseWriter, r *http.Request, _ map[string]any) {
	key := r.PathValue("p") + "/" + r.PathValue("s")
	if _, ok := f.snapshots[key]; !ok {
		f.notFound(w, "projects/"+r.PathValue("p")+"/global/snapshots/"+r.PathValue("s"))
		return
	}
	op := f.newOperation(r.PathValue("p"), "", "delete", "projects/"+r.PathValue("p")+"/global/snapshots/"+r.PathValue("s"), func() map[string]any {
		delete(f.snapshots, key)
		return nil
	})
	f.writeJSON(w, op)
}

func (f *fakeGCE) insertDisk(w http.ResponseWriter, r *http.Request, body map[string]any) {
	p, z := r.PathValue("p"), r.PathValue("z")
	if r.URL.Query().Get("requestId") == "" {
		f.t.Errorf("fake GCE: disks.insert without requestId")
	}
	name, _ := body["name"].(string)
	source, _ := body["sourceSnapshot"].(string)
	op := f.newOperation(p, z, "insert", "projects/"+p+"/zones/"+z+"/disks/"+name, func() map[string]any {
		if f.insertError != nil {
			return f.insertError
		}
		var snap map[string]any
		for _, s := range f.snapshots {
			if s["selfLink"] == source || strings.HasSuffix(fmt.Sprint(s["selfLink"]), "/"+source) {
				snap = s
			}
		}
		if snap == nil {
			return map[string]any{"code": "RESOURCE_NOT_FOUND", "message": "The resource '" + source + "' was not found"}
		}
		disk := map[string]any{
			"kind": "compute#disk", "id": "1002", "name": name, "sizeGb": snap["diskSizeGb"], "status": "CREATING",
			"zone": f.url("projects/" + p + "/zones/" + z), "sourceSnapshot": snap["selfLink"],
			"selfLink": f.url("projects/" + p + "/zones/" + z + "/disks/" + name), "type": body["type"],
		}
		if labels, ok := body["labels"]; ok {
			disk["labels"] = labels
		}
		if iops, ok := body["provisionedIops"]; ok {
			disk["provisionedIops"] = iops
		}
		f.disks[p+"/"+z+"/"+name] = disk
		return nil
	})
	f.writeJSON(w, op)
}
