package plugin

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/pkg/plugin/internal/pb"
)

// garbageEnv makes this test binary, started by a Client, serve Ark's
// protocol with a hand-written server that breaks it (the SDK's Serve
// cannot): what a plugin built on another SDK, or a buggy one, may answer.
const garbageEnv = "ARK_TEST_GARBAGE_PLUGIN"

func TestMain(m *testing.M) {
	if mode := os.Getenv(garbageEnv); mode != "" {
		serveGarbage(mode)
		return
	}
	os.Exit(m.Run())
}

func serveGarbage(mode string) {
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: handshake,
		Plugins: goplugin.PluginSet{goPluginName: &bridge{register: func(s *grpc.Server) {
			pb.RegisterRegistryServer(s, garbageRegistry{mode: mode})
			pb.RegisterBackupItemActionServer(s, garbageAction{})
		}}},
		GRPCServer: goplugin.DefaultGRPCServer,
	})
}

type garbageRegistry struct {
	pb.UnimplementedRegistryServer
	mode string
}

func (g garbageRegistry) Provides(context.Context, *pb.Empty) (*pb.ProvidesResponse, error) {
	d := &pb.Descriptor{Kind: string(KindBackupItemAction), Name: "test.ark.heptio.com/garbage"}
	switch g.mode {
	case "kind":
		d.Kind = "teapot"
	case "name":
		d.Name = "garbage"
	}
	return &pb.ProvidesResponse{Version: "v0", Plugins: []*pb.Descriptor{d}}, nil
}

// garbageAction answers each item by its name: "short" drops a result
// from the answer, "notjson", "otherkind" and "nameless" spoil that item's
// result; any other item comes back unchanged.
type garbageAction struct {
	pb.UnimplementedBackupItemActionServer
}

func (garbageAction) AppliesTo(context.Context, *pb.AppliesToRequest) (*pb.ResourceSelector, error) {
	return &pb.ResourceSelector{IncludedResources: []string{"configmaps"}}, nil
}

func (garbageAction) Execute(_ context.Context, req *pb.BackupItemsRequest) (*pb.BackupItemsResponse, error) {
	resp := &pb.BackupItemsResponse{}
	for _, data := range req.GetItems() {
		item, err := decodeObject(data)
		if err != nil {
			return nil, err
		}
		r := &pb.BackupItemResult{Unchanged: true}
		switch item.GetName() {
		case "short":
			continue
		case "notjson":
			r = &pb.BackupItemResult{Item: []byte(`{"apiVersion": "v1", "kind": `)}
		case "otherkind":
			r = &pb.BackupItemResult{Item: []byte(`{"apiVersion": "v1", "kind": "Secret", "metadata": {"namespace": "ns", "name": "otherkind"}}`)}
		case "nameless":
			r.AdditionalItems = []*pb.ResourceIdentifier{{Resource: "secrets", Namespace: "ns"}}
		}
		resp.Results = append(resp.Results, r)
	}
	return resp, nil
}

func garbageClient(t *testing.T, mode string) *Client {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(self, HostOptions{CallTimeout: 20 * time.Second, Env: []string{garbageEnv + "=" + mode}})
	t.Cleanup(c.Close)
	return c
}

// TestGarbageFailsItsItemOnly: a plugin that answers out of protocol fails
// the items it spoiled, with reasons naming the plugin; an answer that
// breaks the whole batch has its process restarted, and the other items
// of the batch are served again one by one.
func TestGarbageFailsItsItemOnly(t *testing.T) {
	c := garbageClient(t, "items")
	const name = "test.ark.heptio.com/garbage"
	var items []*unstructured.Unstructured
	for _, n := range []string{"a", "short", "b", "notjson", "otherkind", "nameless", "c"} {
		cm := &unstructured.Unstructured{}
		cm.SetAPIVersion("v1")
		cm.SetKind("ConfigMap")
		cm.SetNamespace("ns")
		cm.SetName(n)
		items = append(items, cm)
	}
	backup := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "b1"}}
	results := ExecuteBackupItems(context.Background(), c.BackupItemAction(name), items, backup)
	want := map[string]string{
		"short":     "plugin " + name + ": binary " + c.Path() + " answered out of protocol (0 results for 1 items); its process was stopped",
		"notjson":   "plugin " + name + ": returned an item that is not a Kubernetes object",
		"otherkind": "plugin " + name + ": returned a Secret instead of the ConfigMap it was given",
		"nameless":  "plugin " + name + ": additional item 0 has no resource or no name",
	}
	for i, r := range results {
		n := items[i].GetName()
		if w, bad := want[n]; bad {
			if r.Err == nil || !strings.Contains(r.Err.Error(), w) {
				t.Errorf("item %s: error %v; want one containing %q", n, r.Err, w)
			}
			continue
		}
		if r.Err != nil || r.Item != items[i] {
			t.Errorf("item %s: %v, %v; want it back unchanged", n, r.Item, r.Err)
		}
	}
	// The batch of seven came back short (restart 1), then "short" alone
	// did again (restart 2).
	if c.Restarts() != 2 {
		t.Errorf("the plugin restarted %d times; want 2 (after each short answer)", c.Restarts())
	}
	if _, _, err := c.Provides(context.Background()); err != nil {
		t.Errorf("after the garbage the plugin does not answer: %v", err)
	}
}

// TestGarbageDescriptorsAreRefused: a binary that says it serves a kind
// Ark does not know, or a name without a domain, is refused with the
// binary named.
func TestGarbageDescriptorsAreRefused(t *testing.T) {
	for mode, want := range map[string]string{
		"kind": `of unknown kind "teapot"`,
		"name": "e.g. example.com/mystore",
	} {
		c := garbageClient(t, mode)
		_, _, err := c.Provides(context.Background())
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), c.Path()) {
			t.Errorf("mode %s: Provides = %v; want an error naming the binary and containing %q", mode, err, want)
		}
	}
}
