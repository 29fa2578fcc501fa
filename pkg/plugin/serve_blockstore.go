package plugin

import (
	"context"

	"github.com/heptio/ark/pkg/plugin/internal/pb"
)

type blockStoreServer struct {
	pb.UnimplementedBlockStoreServer
	stores *instances[BlockStore]
}

func newBlockStoreServer(factories map[string]BlockStoreFactory) *blockStoreServer {
	f := map[string]func(map[string]string) (BlockStore, error){}
	for name, factory := range factories {
		f[name] = factory
	}
	return &blockStoreServer{stores: newInstances(KindBlockStore, f)}
}

func (s *blockStoreServer) Init(_ context.Context, req *pb.InitRequest) (*pb.InitResponse, error) {
	id, err := s.stores.init(req.GetName(), req.GetConfig())
	if err != nil {
		return nil, err
	}
	return &pb.InitResponse{Instance: id}, nil
}

func (s *blockStoreServer) GetVolumeID(_ context.Context, req *pb.VolumeIDRequest) (*pb.VolumeIDResponse, error) {
	store, err := s.stores.get(req.GetInstance())
	if err != nil {
		return nil, err
	}
	pv, err := decodeObject(req.GetPersistentVolume())
	if err != nil {
		return nil, toStatus(err)
	}
	id, err := store.GetVolumeID(pv)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.VolumeIDResponse{VolumeId: id}, nil
}

func (s *blockStoreServer) SetVolumeID(_ context.Context, req *pb.SetVolumeIDRequest) (*pb.SetVolumeIDResponse, error) {
	store, err := s.stores.get(req.GetInstance())
	if err != nil {
		return nil, err
	}
	pv, err := decodeObject(req.GetPersistentVolume())
	if err != nil {
		return nil, toStatus(err)
	}
	updated, err := store.SetVolumeID(pv, req.GetVolumeId())
	if err != nil {
		return nil, toStatus(err)
	}
	data, err := encodeObject(updated)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.SetVolumeIDResponse{PersistentVolume: data}, nil
}

func (s *blockStoreServer) GetVolumeInfo(ctx context.Context, req *pb.VolumeRequest) (*pb.VolumeInfoResponse, error) {
	store, err := s.stores.get(req.GetInstance())
	if err != nil {
		return nil, err
	}
	volumeType, iops, err := store.GetVolumeInfo(ctx, req.GetVolumeId(), req.GetZone())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.VolumeInfoResponse{VolumeType: volumeType, Iops: iops}, nil
}

func (s *blockStoreServer) CreateSnapshot(ctx context.Context, req *pb.CreateSnapshotRequest) (*pb.CreateSnapshotResponse, error) {
	store, err := s.stores.get(req.GetInstance())
	if err != nil {
		return nil, err
	}
	id, err := store.CreateSnapshot(ctx, req.GetVolumeId(), req.GetZone(), req.GetTags())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.CreateSnapshotResponse{SnapshotId: id}, nil
}

func (s *blockStoreServer) CreateVolumeFromSnapshot(ctx context.Context, req *pb.CreateVolumeRequest) (*pb.CreateVolumeResponse, error) {
	store, err := s.stores.get(req.GetInstance())
	if err != nil {
		return nil, err
	}
	id, err := store.CreateVolumeFromSnapshot(ctx, req.GetSnapshotId(), req.GetVolumeType(), req.GetZone(), req.Iops)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.CreateVolumeResponse{VolumeId: id}, nil
}

func (s *blockStoreServer) IsVolumeReady(ctx context.Context, req *pb.VolumeRequest) (*pb.IsVolumeReadyResponse, error) {
	store, err := s.stores.get(req.GetInstance())
	if err != nil {
		return nil, err
	}
	ready, err := store.IsVolumeReady(ctx, req.GetVolumeId(), req.GetZone())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.IsVolumeReadyResponse{Ready: ready}, nil
}

func (s *blockStoreServer) DeleteSnapshot(ctx context.Context, req *pb.DeleteSnapshotRequest) (*pb.Empty, error) {
	store, err := s.stores.get(req.GetInstance())
	if err != nil {
		return nil, err
	}
	if err := store.DeleteSnapshot(ctx, req.GetSnapshotId()); err != nil {
		return nil, toStatus(err)
	}
	return &pb.Empty{}, nil
}
