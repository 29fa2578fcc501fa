package aws

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeEC2 speaks the EC2 Query protocol (form-encoded POST, XML answers, no
// <Result> wrapper) for the calls the block store makes, in the shapes
// captured from moto in emulators.md §4b. It keeps volumes and snapshots in
// memory, moves them through their real states over polls, and can be told
// to fail the next calls of an action.
type fakeEC2 struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	requests  []ec2Request
	volumes   map[string]*fakeVolume
	snapshots map[string]*fakeSnapshot
	faults    map[string][]ec2Fault
	next      int

	// pendingPolls is how many DescribeSnapshots answers say "pending" before
	// a new snapshot is "completed"; creatingPolls the same for volumes.
	pendingPolls, creatingPolls int
}

type ec2Request struct {
	params url.Values
	auth   string
}

func (r ec2Request) action() string { return r.params.Get("Action") }

type fakeVolume struct {
	id, zone, volumeType, state, snapshotID string
	iops, size, describes                   int
	tags                                    [][2]string
}

type fakeSnapshot struct {
	id, volumeID, description, state, stateMessage string
	describes                                      int
	tags                                           [][2]string
}

type ec2Fault struct {
	status  int
	code    string
	message string
}

func newFakeEC2(t *testing.T) *fakeEC2 {
	t.Helper()
	f := &fakeEC2{
		t:             t,
		volumes:       map[string]*fakeVolume{},
		snapshots:     map[string]*fakeSnapshot{},
		faults:        map[string][]ec2Fault{},
		pendingPolls:  2,
		creatingPolls: 1,
	}
	// httptest listens on 127.0.0.1 on a free port.
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeEC2) url() string { return f.srv.URL }

func (f *fakeEC2) addVolume(v fakeVolume) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v.state == "" {
		v.state = "in-use"
	}
	f.volumes[v.id] = &v
}

// failNext makes the next len(faults) calls of action fail, in order.
func (f *fakeEC2) failNext(action string, faults ...ec2Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[action] = append(f.faults[action], faults...)
}

func (f *fakeEC2) calls(action string) []ec2Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ec2Request
	for _, r := range f.requests {
		if r.action() == action {
			out = append(out, r)
		}
	}
	return out
}

func (f *fakeEC2) allRequests() []ec2Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ec2Request(nil), f.requests...)
}

func (f *fakeEC2) snapshot(id string) *fakeSnapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snapshots[id]
}

func (f *fakeEC2) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		f.t.Errorf("fake EC2: unexpected %s %s", r.Method, r.URL.Path)
		http.Error(w, "unexpected request", http.StatusNotFound)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		f.t.Errorf("fake EC2: Content-Type %q, want application/x-www-form-urlencoded", ct)
	}
	if err := r.ParseForm(); err != nil {
		f.t.Errorf("fake EC2: parsing form: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	params := r.PostForm
	if v := params.Get("Version"); v != "2016-11-15" {
		f.t.Errorf("fake EC2: Version=%q, want 2016-11-15", v)
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, ec2Request{params: params, auth: r.Header.Get("Authorization")})

	action := params.Get("Action")
	if queue := f.faults[action]; len(queue) > 0 {
		f.faults[action] = queue[1:]
		f.writeError(w, queue[0].status, queue[0].code, queue[0].message)
		return
	}

	switch action {
	case "CreateSnapshot":
		f.createSnapshot(w, params)
	case "DescribeSnapshots":
		f.describeSnapshots(w, params)
	case "DeleteSnapshot":
		f.deleteSnapshot(w, params)
	case "CreateVolume":
		f.createVolume(w, params)
	case "DescribeVolumes":
		f.describeVolumes(w, params)
	default:
		f.t.Errorf("fake EC2: unexpected action %q", action)
		f.writeError(w, http.StatusBadRequest, "InvalidAction", "The action "+action+" is not valid for this web service.")
	}
}

func (f *fakeEC2) newID(prefix string) string {
	f.next++
	return fmt.Sprintf("%s-%017x", prefix, f.next)
}

// tagSpec reads TagSpecification.N for resourceType.
func tagSpec(t *testing.T, params url.Values, resourceType string) [][2]string {
	var tags [][2]string
	for n := 1; params.Has(fmt.Sprintf("TagSpecification.%d.ResourceType", n)); n++ {
		prefix := fmt.Sprintf("TagSpecification.%d.", n)
		if got := params.Get(prefix + "ResourceType"); got != resourceType {
			t.Errorf("fake EC2: %sResourceType=%q, want %q", prefix, got, resourceType)
			continue
		}
		for m := 1; params.Has(fmt.Sprintf("%sTag.%d.Key", prefix, m)); m++ {
			tags = append(tags, [2]string{
				params.Get(fmt.Sprintf("%sTag.%d.Key", prefix, m)),
				params.Get(fmt.Sprintf("%sTag.%d.Value", prefix, m)),
			})
		}
	}
	return tags
}

func (f *fakeEC2) createSnapshot(w http.ResponseWriter, params url.Values) {
	vol, ok := f.volumes[params.Get("VolumeId")]
	if !ok {
		f.writeError(w, http.StatusBadRequest, "InvalidVolume.NotFound", fmt.Sprintf("The volume '%s' does not exist.", params.Get("VolumeId")))
		return
	}
	s := &fakeSnapshot{
		id:          f.newID("snap"),
		volumeID:    vol.id,
		description: params.Get("Description"),
		state:       "pending",
		tags:        tagSpec(f.t, params, "snapshot"),
	}
	f.snapshots[s.id] = s
	f.writeXML(w, "CreateSnapshotResponse", snapshotFields(s, vol.size))
}

func (f *fakeEC2) describeSnapshots(w http.ResponseWriter, params url.Values) {
	var items strings.Builder
	for _, id := range listParam(params, "SnapshotId") {
		s, ok := f.snapshots[id]
		if !ok {
			f.writeError(w, http.StatusBadRequest, "InvalidSnapshot.NotFound", fmt.Sprintf("The snapshot '%s' does not exist.", id))
			return
		}
		s.describes++
		if s.state == "pending" && s.describes > f.pendingPolls {
			s.state = "completed"
		}
		items.WriteString("<item>" + snapshotFields(s, 8) + "</item>")
	}
	f.writeXML(w, "DescribeSnapshotsResponse", "<snapshotSet>"+items.String()+"</snapshotSet>")
}

func (f *fakeEC2) deleteSnapshot(w http.ResponseWriter, params url.Values) {
	id := params.Get("SnapshotId")
	if _, ok := f.snapshots[id]; !ok {
		f.writeError(w, http.StatusBadRequest, "InvalidSnapshot.NotFound", fmt.Sprintf("The snapshot '%s' does not exist.", id))
		return
	}
	delete(f.snapshots, id)
	f.writeXML(w, "DeleteSnapshotResponse", "<return>true</return>")
}

func (f *fakeEC2) createVolume(w http.ResponseWriter, params url.Values) {
	if params.Get("AvailabilityZone") == "" {
		f.writeError(w, http.StatusBadRequest, "MissingParameter", "The request must contain the parameter AvailabilityZone")
		return
	}
	snapID := params.Get("SnapshotId")
	s, ok := f.snapshots[snapID]
	if !ok {
		f.writeError(w, http.StatusBadRequest, "InvalidSnapshot.NotFound", fmt.Sprintf("The snapshot '%s' does not exist.", snapID))
		return
	}
	if s.state != "completed" {
		f.writeError(w, http.StatusBadRequest, "IncorrectState", "Snapshot is in invalid state - "+s.state)
		return
	}
	v := &fakeVolume{
		id:         f.newID("vol"),
		zone:       params.Get("AvailabilityZone"),
		volumeType: params.Get("VolumeType"),
		state:      "creating",
		snapshotID: snapID,
		size:       8,
		tags:       tagSpec(f.t, params, "volume"),
	}
	if v.volumeType == "" {
		v.volumeType = "gp2"
	}
	if iops := params.Get("Iops"); iops != "" {
		v.iops, _ = strconv.Atoi(iops)
	}
	f.volumes[v.id] = v
	f.writeXML(w, "CreateVolumeResponse", volumeFields(v))
}

func (f *fakeEC2) describeVolumes(w http.ResponseWriter, params url.Values) {
	var items strings.Builder
	for _, id := range listParam(params, "VolumeId") {
		v, ok := f.volumes[id]
		if !ok {
			f.writeError(w, http.StatusBadRequest, "InvalidVolume.NotFound", fmt.Sprintf("The volume '%s' does not exist.", id))
			return
		}
		v.describes++
		if v.state == "creating" && v.describes > f.creatingPolls {
			v.state = "available"
		}
		items.WriteString("<item>" + volumeFields(v) + "</item>")
	}
	f.writeXML(w, "DescribeVolumesResponse", "<volumeSet>"+items.String()+"</volumeSet>")
}

func listParam(params url.Values, name string) []string {
	var out []string
	for n := 1; params.Has(fmt.Sprintf("%s.%d", name, n)); n++ {
		out = append(out, params.Get(fmt.Sprintf("%s.%d", name, n)))
	}
	return out
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func tagSet(tags [][2]string) string {
	var b strings.Builder
	b.WriteString("<tagSet>")
	for _, t := range tags {
		b.WriteString("<item><key>" + esc(t[0]) + "</key><value>" + esc(t[1]) + "</value></item>")
	}
	b.WriteString("</tagSet>")
	return b.String()
}

func snapshotFields(s *fakeSnapshot, size int) string {
	progress := "0%"
	if s.state == "completed" {
		progress = "100%"
	}
	return fmt.Sprintf("<snapshotId>%s</snapshotId><volumeId>%s</volumeId><status>%s</status><statusMessage>%s</statusMessage>"+
		"<startTime>2026-11-21T10:00:00.000Z</startTime><progress>%s</progress><ownerId>123456789012</ownerId>"+
		"<volumeSize>%d</volumeSize><encrypted>false</encrypted><description>%s</description>%s",
		s.id, s.volumeID, s.state, esc(s.stateMessage), progress, size, esc(s.description), tagSet(s.tags))
}

func volumeFields(v *fakeVolume) string {
	iops := ""
	if v.iops > 0 {
		iops = fmt.Sprintf("<iops>%d</iops>", v.iops)
	}
	return fmt.Sprintf("<volumeId>%s</volumeId><size>%d</size><snapshotId>%s</snapshotId><availabilityZone>%s</availabilityZone>"+
		"<status>%s</status><createTime>2026-11-21T10:00:00.000Z</createTime><volumeType>%s</volumeType>%s"+
		"<encrypted>false</encrypted>%s",
		v.id, v.size, v.snapshotID, v.zone, v.state, v.volumeType, iops, tagSet(v.tags))
}

func (f *fakeEC2) writeXML(w http.ResponseWriter, root, body string) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<%s xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>%d</requestId>%s</%s>`, root, len(f.requests), body, root)
}

func (f *fakeEC2) writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>req-%d</RequestID></Response>`,
		esc(code), esc(message), len(f.requests))
}

// tagsOf turns recorded tags into a map for comparison.
func tagsOf(tags [][2]string) map[string]string {
	out := map[string]string{}
	for _, t := range tags {
		out[t[0]] = t[1]
	}
	return out
}
