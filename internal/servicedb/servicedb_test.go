package servicedb

import (
	"context"
	"path/filepath"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/boltstore"
)

var schema = boltstore.Schema{
	Meta:       boltstore.MetaBucket,
	Buckets:    [][]byte{audit.Bucket},
	Version:    1,
	Migrations: []boltstore.Migration{boltstore.RecordFirstVersion},
}

func TestAuditedBase(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "s.db")
	b, err := Open(path, schema, Options{Logger: zaptest.NewLogger(t), Audit: true, DurableReads: true})
	if err != nil {
		t.Fatal(err)
	}
	const id = "aaaaaaaaaaaaaaaa"
	if err := b.AuditReads(context.Background(), audit.Actor{Subject: "u", Role: "clerk"}, "GetRetiree", id); err != nil {
		t.Fatal(err)
	}
	page, next, err := b.ListAudit(id, 10, nil)
	if err != nil || len(page) != 1 || next != nil || page[0].Subject != "u" {
		t.Errorf("ListAudit = %v, %v, %v; want the one durable read", page, next, err)
	}
	if page, _, err := b.ListAudit("../etc/passwd", 10, nil); err != nil || len(page) != 0 {
		t.Errorf("ListAudit of a malformed id = %v, %v; want nothing", page, err)
	}
	if b.PageTokens() == nil || b.DB().Path() != path {
		t.Errorf("PageTokens %v, DB path %q", b.PageTokens(), b.DB().Path())
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestUnauditedBaseRefusesReads(t *testing.T) {
	t.Parallel()
	b, err := Open(filepath.Join(t.TempDir(), "s.db"), schema, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.AuditReads(context.Background(), audit.Actor{}, "GetRetiree", "aaaaaaaaaaaaaaaa"); err == nil {
		t.Error("AuditReads without an audit log succeeded; a read would be disclosed unrecorded")
	}
}
