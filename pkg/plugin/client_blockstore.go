package plugin

import (
	"context"

	"google.golang.org/grpc"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/heptio/ark/pkg/plugin/internal/pb"
)

type blockStoreClient struct{ instance }

var _ BlockStore = (*blockStoreClient)(nil)

func (s *blockStoreClient) GetVolumeID(pv *unstructured.Unstructured) (string, error) {
	data, err := encodeObject(pv)
	if err != nil {
		return "", err
	}
	var id string
	err = s.unary(context.Background(), func(ctx context.Context, conn *grpc.ClientConn, inst string) error {
		resp, err := pb.NewBlockStoreClient(conn).GetVolumeID(ctx, &pb.VolumeIDRequest{Instance: inst, PersistentVolume: data})
		id = resp.GetVolumeId()
		return err
	})
	return id, err
}

func (s *blockStoreClient) SetVolumeID(pv *unstructured.Unstructured, volumeID string) (*unstructured.Unstructured, error) {
	data, err := encodeObject(pv)
	if err != nil {
		return nil, err
	}
	var out []byte
	err = s.unary(context.Background(), func(ctx context.Context, conn *grpc.ClientConn, inst string) error {
		resp, err := pb.NewBlockStoreClient(conn).SetVolumeID(ctx, &pb.SetVolumeIDRequest{Instance: inst, PersistentVolume: data, VolumeId: volumeID})
		out = resp.GetPersistentVolume()
		return err
	})
	if err != nil {
		return nil, err
	}
	updated, err := decodeObject(out)
	if err != nil {
		return nil, s.wrap(err)
	}
	if err := sameIdentity(pv, updated); err != nil {
		return nil, s.wrap(err)
	}
	return updated, nil
}

func (s *blockStoreClient) GetVolumeInfo(ctx context.Context, volumeID, zone string) (string, *int64, error) {
	var resp *pb.VolumeInfoResponse
	err := s.unary(ctx, func(ctx context.Context, conn *grpc.ClientConn, inst string) (err error) {
		resp, err = pb.NewBlockStoreClient(conn).GetVolumeInfo(ctx, &pb.VolumeRequest{Instance: inst, VolumeId: volumeID, Zone: zone})
		return err
	})
	if err != nil {
		return "", nil, err
	}
	return resp.GetVolumeType(), resp.Iops, nil
}

func (s *blockStoreClient) CreateSnapshot(ctx context.Context, volumeID, zone string, tags map[string]string) (string, error) {
	var id string
	err := s.unary(ctx, func(ctx context.Context, conn *grpc.ClientConn, inst string) error {
		resp, err := pb.NewBlockStoreClient(conn).CreateSnapshot(ctx, &pb.CreateSnapshotRequest{Instance: inst, VolumeId: volumeID, Zone: zone, Tags: tags})
		id = resp.GetSnapshotId()
		return err
	})
	return id, err
}

func (s *blockStoreClient) CreateVolumeFromSnapshot(ctx context.Context, snapshotID, volumeType, zone string, iops *int64) (string, error) {
	var id string
	err := s.unary(ctx, func(ctx context.Context, conn *grpc.ClientConn, inst string) error {
		resp, err := pb.NewBlockStoreClient(conn).CreateVolumeFromSnapshot(ctx, &pb.CreateVolumeRequest{Instance: inst, SnapshotId: snapshotID, VolumeType: volumeType, Zone: zone, Iops: iops})
		id = resp.GetVolumeId()
		return err
	})
	return id, err
}

func (s *blockStoreClient) IsVolumeReady(ctx context.Context, volumeID, zone string) (bool, error) {
	var ready bool
	err := s.unary(ctx, func(ctx context.Context, conn *grpc.ClientConn, inst string) error {
		resp, err := pb.NewBlockStoreClient(conn).IsVolumeReady(ctx, &pb.VolumeRequest{Instance: inst, VolumeId: volumeID, Zone: zone})
		ready = resp.GetReady()
		return err
	})
	return ready, err
}

func (s *blockStoreClient) DeleteSnapshot(ctx context.Context, snapshotID string) error {
	return s.unary(ctx, func(ctx context.Context, conn *grpc.ClientConn, inst string) error {
		_, err := pb.NewBlockStoreClient(conn).DeleteSnapshot(ctx, &pb.DeleteSnapshotRequest{Instance: inst, SnapshotId: snapshotID})
		return err
	})
}
