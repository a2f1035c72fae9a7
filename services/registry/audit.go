package registry

import (
	"context"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Actor is who makes a change or a read, for history and audit.
type Actor = audit.Actor

// AuditReads records that actor read the given retirees. With durable reads
// configured it returns once the records are on disk (the data is disclosed
// only after its read is recorded); otherwise once they are queued for the
// next group commit, milliseconds away.
func (s *Store) AuditReads(ctx context.Context, actor Actor, action string, retireeIDs ...string) error {
	return s.audit.Read(ctx, actor, action, retireeIDs...)
}

// ListAudit returns a page of a retiree's audit entries, oldest first.
func (s *Store) ListAudit(id string, size int, after []byte) ([]*pb.AuditEntry, []byte, error) {
	if !inputcheck.IsOpaqueID(id) {
		return nil, nil, nil
	}
	return audit.List(s.db, id, size, after)
}
