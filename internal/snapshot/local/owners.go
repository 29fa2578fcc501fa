package local

import (
	"cmp"
	"fmt"
	"slices"
)

// maxOwners bounds the owners a snapshot records. Real volumes have a
// handful; a volume with more is refused rather than given an unbounded
// metadata file.
const maxOwners = 1024

// Owner is a numeric user and group that owned entries of a volume.
type Owner struct {
	UID int `json:"uid"`
	GID int `json:"gid"`
}

// ownerSet is the set of owners of a volume's entries. The snapshot's
// metadata records it, and a restore chowns only to owners in it: an
// archive altered to hand files to other users (root's group, a system
// account) is refused.
type ownerSet struct{ m map[Owner]bool }

func newOwnerSet() *ownerSet { return &ownerSet{m: map[Owner]bool{}} }

func ownerSetOf(owners []Owner) *ownerSet {
	s := newOwnerSet()
	for _, o := range owners {
		s.m[o] = true
	}
	return s
}

func (s *ownerSet) add(uid, gid int) error {
	o := Owner{UID: uid, GID: gid}
	if s.m[o] {
		return nil
	}
	if len(s.m) >= maxOwners {
		return fmt.Errorf("the volume has entries of more than %d different owners (uid:gid); the local provider records at most %d", maxOwners, maxOwners)
	}
	s.m[o] = true
	return nil
}

func (s *ownerSet) contains(uid, gid int) bool { return s.m[Owner{UID: uid, GID: gid}] }

func (s *ownerSet) empty() bool { return s == nil || len(s.m) == 0 }

// list returns the owners sorted, for a stable metadata file.
func (s *ownerSet) list() []Owner {
	out := make([]Owner, 0, len(s.m))
	for o := range s.m {
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b Owner) int {
		return cmp.Or(cmp.Compare(a.UID, b.UID), cmp.Compare(a.GID, b.GID))
	})
	return out
}
