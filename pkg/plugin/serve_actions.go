package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/pkg/plugin/internal/pb"
)

// batchWorkers is how many items of one batch an action runs at once: an
// action that asks the API server something per item is not serialized.
const batchWorkers = 8

// itemAction is what the two kinds of item action have in common.
type itemAction interface {
	AppliesTo() (ResourceSelector, error)
}

// actionSet is the item actions of one kind a binary serves, by name.
type actionSet[A itemAction] struct {
	kind    Kind
	actions map[string]A
}

func (s actionSet[A]) action(name string) (A, error) {
	a, ok := s.actions[name]
	if !ok {
		return a, status.Errorf(codes.NotFound, "this binary serves no %s named %q", s.kind, name)
	}
	return a, nil
}

func (s actionSet[A]) appliesTo(req *pb.AppliesToRequest) (*pb.ResourceSelector, error) {
	a, err := s.action(req.GetName())
	if err != nil {
		return nil, err
	}
	sel, err := a.AppliesTo()
	if err != nil {
		return nil, toStatus(err)
	}
	return selectorToPB(sel), nil
}

type backupActionServer struct {
	pb.UnimplementedBackupItemActionServer
	actionSet[BackupItemAction]
}

func (s *backupActionServer) AppliesTo(_ context.Context, req *pb.AppliesToRequest) (*pb.ResourceSelector, error) {
	return s.appliesTo(req)
}

func (s *backupActionServer) Execute(ctx context.Context, req *pb.BackupItemsRequest) (*pb.BackupItemsResponse, error) {
	a, err := s.action(req.GetName())
	if err != nil {
		return nil, err
	}
	backup := &arkv1.Backup{}
	if err := json.Unmarshal(req.GetBackup(), backup); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "decoding the backup: %v", err)
	}
	results := make([]*pb.BackupItemResult, len(req.GetItems()))
	forEach(len(results), func(i int) {
		results[i] = executeBackupItem(ctx, a, req.GetItems()[i], backup)
	})
	return &pb.BackupItemsResponse{Results: results}, nil
}

func executeBackupItem(ctx context.Context, a BackupItemAction, data []byte, backup *arkv1.Backup) (res *pb.BackupItemResult) {
	item, err := decodeObject(data)
	if err != nil {
		return &pb.BackupItemResult{Error: &pb.ItemError{Message: fmt.Sprintf("decoding the item: %v", err)}}
	}
	defer recoverItem(func(err error) { res = &pb.BackupItemResult{Error: &pb.ItemError{Message: err.Error()}} })
	out, additional, err := a.Execute(ctx, item, backup)
	if err != nil {
		return &pb.BackupItemResult{Error: &pb.ItemError{Message: err.Error()}}
	}
	res = &pb.BackupItemResult{AdditionalItems: identifiersToPB(additional)}
	res.Item, res.Unchanged, err = encodeResult(out, data)
	if err != nil {
		return &pb.BackupItemResult{Error: &pb.ItemError{Message: err.Error()}}
	}
	return res
}

type restoreActionServer struct {
	pb.UnimplementedRestoreItemActionServer
	actionSet[RestoreItemAction]
}

func (s *restoreActionServer) AppliesTo(_ context.Context, req *pb.AppliesToRequest) (*pb.ResourceSelector, error) {
	return s.appliesTo(req)
}

func (s *restoreActionServer) Execute(ctx context.Context, req *pb.RestoreItemsRequest) (*pb.RestoreItemsResponse, error) {
	a, err := s.action(req.GetName())
	if err != nil {
		return nil, err
	}
	restore := &arkv1.Restore{}
	if err := json.Unmarshal(req.GetRestore(), restore); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "decoding the restore: %v", err)
	}
	results := make([]*pb.RestoreItemResult, len(req.GetItems()))
	forEach(len(results), func(i int) {
		results[i] = executeRestoreItem(ctx, a, req.GetItems()[i], restore)
	})
	return &pb.RestoreItemsResponse{Results: results}, nil
}

func executeRestoreItem(ctx context.Context, a RestoreItemAction, data []byte, restore *arkv1.Restore) (res *pb.RestoreItemResult) {
	item, err := decodeObject(data)
	if err != nil {
		return &pb.RestoreItemResult{Error: &pb.ItemError{Message: fmt.Sprintf("decoding the item: %v", err)}}
	}
	defer recoverItem(func(err error) { res = &pb.RestoreItemResult{Error: &pb.ItemError{Message: err.Error()}} })
	out, warning, err := a.Execute(ctx, item, restore)
	if err != nil {
		return &pb.RestoreItemResult{Error: &pb.ItemError{Message: err.Error()}}
	}
	res = &pb.RestoreItemResult{Warning: warning}
	res.Item, res.Unchanged, err = encodeResult(out, data)
	if err != nil {
		return &pb.RestoreItemResult{Error: &pb.ItemError{Message: err.Error()}}
	}
	return res
}

// encodeResult encodes the item an action returned, or says it is the
// item it was given, unchanged: then the host keeps its own copy and
// decodes nothing.
func encodeResult(out *unstructured.Unstructured, in []byte) ([]byte, bool, error) {
	if out == nil {
		return nil, false, fmt.Errorf("the action returned no item (return the item it was given to keep it as it is)")
	}
	data, err := encodeObject(out)
	if err != nil {
		return nil, false, fmt.Errorf("encoding the item the action returned: %w", err)
	}
	if bytes.Equal(data, in) {
		return nil, true, nil
	}
	return data, false, nil
}

// recoverItem turns a panic in an action into the error of its item.
func recoverItem(fail func(error)) {
	if v := recover(); v != nil {
		Log.Error("panic in an item action", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		fail(panicError(v))
	}
}

// forEach runs fn(0..n-1) on up to batchWorkers goroutines.
func forEach(n int, fn func(int)) {
	if n == 1 {
		fn(0)
		return
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(n, batchWorkers) {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}
