package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/pkg/plugin/internal/pb"
)

// batchBytes bounds the items of one call; a larger batch is split.
const batchBytes = 4 << 20

// isolationLimit is how many items in a row may bring a plugin down (crash
// or time out) when a failed batch is retried item by item, before the
// rest of the batch fails without being tried.
const isolationLimit = 3

// BackupResult is what a backup item action made of one item.
type BackupResult struct {
	Item       *unstructured.Unstructured
	Additional []ResourceIdentifier
	Err        error
}

// RestoreResult is what a restore item action made of one item.
type RestoreResult struct {
	Item    *unstructured.Unstructured
	Warning string
	Err     error
}

// BackupItemBatcher is a BackupItemAction that takes many items in one
// call. The actions a Client serves are; ExecuteBackupItems uses it.
type BackupItemBatcher interface {
	ExecuteAll(ctx context.Context, items []*unstructured.Unstructured, backup *arkv1.Backup) []BackupResult
}

// RestoreItemBatcher is RestoreItemAction's counterpart.
type RestoreItemBatcher interface {
	ExecuteAll(ctx context.Context, items []*unstructured.Unstructured, restore *arkv1.Restore) []RestoreResult
}

// ExecuteBackupItems runs a on items: in one call per batch when a is a
// BackupItemBatcher (a plugin), else item by item.
func ExecuteBackupItems(ctx context.Context, a BackupItemAction, items []*unstructured.Unstructured, backup *arkv1.Backup) []BackupResult {
	if b, ok := a.(BackupItemBatcher); ok {
		return b.ExecuteAll(ctx, items, backup)
	}
	out := make([]BackupResult, len(items))
	for i, item := range items {
		out[i].Item, out[i].Additional, out[i].Err = a.Execute(ctx, item, backup)
	}
	return out
}

// ExecuteRestoreItems is ExecuteBackupItems' counterpart.
func ExecuteRestoreItems(ctx context.Context, a RestoreItemAction, items []*unstructured.Unstructured, restore *arkv1.Restore) []RestoreResult {
	if b, ok := a.(RestoreItemBatcher); ok {
		return b.ExecuteAll(ctx, items, restore)
	}
	out := make([]RestoreResult, len(items))
	for i, item := range items {
		out[i].Item, out[i].Warning, out[i].Err = a.Execute(ctx, item, restore)
	}
	return out
}

// BackupItemAction returns the backup item action name of the binary.
func (c *Client) BackupItemAction(name string) BackupItemAction {
	return &backupActionClient{c: c, name: name}
}

// RestoreItemAction returns the restore item action name of the binary.
func (c *Client) RestoreItemAction(name string) RestoreItemAction {
	return &restoreActionClient{c: c, name: name}
}

type backupActionClient struct {
	c    *Client
	name string
}

var (
	_ BackupItemAction  = (*backupActionClient)(nil)
	_ BackupItemBatcher = (*backupActionClient)(nil)
)

func (a *backupActionClient) AppliesTo() (ResourceSelector, error) {
	var sel *pb.ResourceSelector
	err := a.c.unaryRetrying(context.Background(), func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		sel, err = pb.NewBackupItemActionClient(conn).AppliesTo(ctx, &pb.AppliesToRequest{Name: a.name})
		return err
	})
	if err != nil {
		return ResourceSelector{}, fmt.Errorf("plugin %s: %w", a.name, err)
	}
	return selectorFromPB(sel), nil
}

func (a *backupActionClient) Execute(ctx context.Context, item *unstructured.Unstructured, backup *arkv1.Backup) (*unstructured.Unstructured, []ResourceIdentifier, error) {
	r := a.ExecuteAll(ctx, []*unstructured.Unstructured{item}, backup)[0]
	return r.Item, r.Additional, r.Err
}

func (a *backupActionClient) ExecuteAll(ctx context.Context, items []*unstructured.Unstructured, backup *arkv1.Backup) []BackupResult {
	out := make([]BackupResult, len(items))
	spec, err := json.Marshal(backup)
	if err != nil {
		for i := range out {
			out[i].Err = fmt.Errorf("plugin %s: encoding the backup: %w", a.name, err)
		}
		return out
	}
	call := func(idx []int, data [][]byte) ([]BackupResult, error) {
		var resp *pb.BackupItemsResponse
		err := a.c.unaryRetrying(ctx, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
			resp, err = pb.NewBackupItemActionClient(conn).Execute(ctx, &pb.BackupItemsRequest{Name: a.name, Backup: spec, Items: data})
			if err == nil && len(resp.GetResults()) != len(idx) {
				err = &garbageError{fmt.Sprintf("%d results for %d items", len(resp.GetResults()), len(idx))}
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		res := make([]BackupResult, len(idx))
		for j, r := range resp.GetResults() {
			res[j] = a.result(items[idx[j]], r)
		}
		return res, nil
	}
	runBatches(items, out, func(r *BackupResult, err error) { r.Err = err }, call, a.name)
	return out
}

func (a *backupActionClient) result(in *unstructured.Unstructured, r *pb.BackupItemResult) BackupResult {
	if r.GetError() != nil {
		return BackupResult{Err: fmt.Errorf("plugin %s: %s", a.name, r.GetError().GetMessage())}
	}
	item, err := resultItem(in, r.GetItem(), r.GetUnchanged())
	if err == nil {
		var additional []ResourceIdentifier
		if additional, err = identifiersFromPB(r.GetAdditionalItems()); err == nil {
			return BackupResult{Item: item, Additional: additional}
		}
	}
	return BackupResult{Err: fmt.Errorf("plugin %s: %w", a.name, err)}
}

type restoreActionClient struct {
	c    *Client
	name string
}

var (
	_ RestoreItemAction  = (*restoreActionClient)(nil)
	_ RestoreItemBatcher = (*restoreActionClient)(nil)
)

func (a *restoreActionClient) AppliesTo() (ResourceSelector, error) {
	var sel *pb.ResourceSelector
	err := a.c.unaryRetrying(context.Background(), func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		sel, err = pb.NewRestoreItemActionClient(conn).AppliesTo(ctx, &pb.AppliesToRequest{Name: a.name})
		return err
	})
	if err != nil {
		return ResourceSelector{}, fmt.Errorf("plugin %s: %w", a.name, err)
	}
	return selectorFromPB(sel), nil
}

func (a *restoreActionClient) Execute(ctx context.Context, item *unstructured.Unstructured, restore *arkv1.Restore) (*unstructured.Unstructured, string, error) {
	r := a.ExecuteAll(ctx, []*unstructured.Unstructured{item}, restore)[0]
	return r.Item, r.Warning, r.Err
}

func (a *restoreActionClient) ExecuteAll(ctx context.Context, items []*unstructured.Unstructured, restore *arkv1.Restore) []RestoreResult {
	out := make([]RestoreResult, len(items))
	spec, err := json.Marshal(restore)
	if err != nil {
		for i := range out {
			out[i].Err = fmt.Errorf("plugin %s: encoding the restore: %w", a.name, err)
		}
		return out
	}
	call := func(idx []int, data [][]byte) ([]RestoreResult, error) {
		var resp *pb.RestoreItemsResponse
		err := a.c.unaryRetrying(ctx, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
			resp, err = pb.NewRestoreItemActionClient(conn).Execute(ctx, &pb.RestoreItemsRequest{Name: a.name, Restore: spec, Items: data})
			if err == nil && len(resp.GetResults()) != len(idx) {
				err = &garbageError{fmt.Sprintf("%d results for %d items", len(resp.GetResults()), len(idx))}
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		res := make([]RestoreResult, len(idx))
		for j, r := range resp.GetResults() {
			res[j] = a.result(items[idx[j]], r)
		}
		return res, nil
	}
	runBatches(items, out, func(r *RestoreResult, err error) { r.Err = err }, call, a.name)
	return out
}

func (a *restoreActionClient) result(in *unstructured.Unstructured, r *pb.RestoreItemResult) RestoreResult {
	if r.GetError() != nil {
		return RestoreResult{Err: fmt.Errorf("plugin %s: %s", a.name, r.GetError().GetMessage())}
	}
	item, err := resultItem(in, r.GetItem(), r.GetUnchanged())
	if err != nil {
		return RestoreResult{Err: fmt.Errorf("plugin %s: %w", a.name, err)}
	}
	return RestoreResult{Item: item, Warning: r.GetWarning()}
}

// resultItem is the item an action answered: the host's own when it is
// unchanged, else the decoded answer, which must be the same object.
func resultItem(in *unstructured.Unstructured, data []byte, unchanged bool) (*unstructured.Unstructured, error) {
	if unchanged {
		return in, nil
	}
	out, err := decodeObject(data)
	if err != nil {
		return nil, fmt.Errorf("returned an item that is not a Kubernetes object: %w", err)
	}
	if err := sameIdentity(in, out); err != nil {
		return nil, err
	}
	return out, nil
}

// runBatches encodes items, calls call once per batch of at most
// batchBytes, and fills out. A batch that fails on the way (the plugin
// crashed or hung: a CallError) is retried item by item, so one poisonous
// item fails alone; after isolationLimit such failures in a row, the rest
// of the batch fails untried. Any other error fails the batch's items.
func runBatches[R any](items []*unstructured.Unstructured, out []R, fail func(*R, error), call func([]int, [][]byte) ([]R, error), name string) {
	var idx []int
	var data [][]byte
	size := 0
	flush := func() {
		if len(idx) == 0 {
			return
		}
		res, err := call(idx, data)
		switch {
		case err == nil:
			for j, i := range idx {
				out[i] = res[j]
			}
		case IsCallError(err) && len(idx) > 1:
			isolate(idx, data, out, fail, call, name)
		default:
			for _, i := range idx {
				fail(&out[i], wrapName(name, err))
			}
		}
		idx, data, size = nil, nil, 0
	}
	for i, item := range items {
		b, err := encodeObject(item)
		if err != nil {
			fail(&out[i], fmt.Errorf("plugin %s: encoding the item: %w", name, err))
			continue
		}
		if size+len(b) > batchBytes {
			flush()
		}
		idx, data, size = append(idx, i), append(data, b), size+len(b)
	}
	flush()
}

func isolate[R any](idx []int, data [][]byte, out []R, fail func(*R, error), call func([]int, [][]byte) ([]R, error), name string) {
	inARow := 0
	for j, i := range idx {
		if inARow >= isolationLimit {
			fail(&out[i], fmt.Errorf("plugin %s: not called: it crashed or hung on %d items in a row just before", name, inARow))
			continue
		}
		res, err := call([]int{i}, data[j:j+1])
		if err != nil {
			if IsCallError(err) {
				inARow++
			}
			fail(&out[i], wrapName(name, err))
			continue
		}
		inARow = 0
		out[i] = res[0]
	}
}

func wrapName(name string, err error) error {
	var re *remoteError
	if errors.As(err, &re) || IsCallError(err) {
		return fmt.Errorf("plugin %s: %w", name, err)
	}
	return err
}
