package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Issue 10's goal for the roster import.
const goalRosterRate = 20_000 // records/s, durable at acknowledgement

// rosterBatch is the roster scenario's batch id.
const rosterBatch = "bench-roster"

// rosterScenario measures ImportRetirees of importRecords new retirees
// over one stream into an empty registry, durable at acknowledgement,
// beside raw bbolt making the same puts per record (the retiree, its
// ID-number key, the community and enterprise indexes, the counters, the
// change log and the history) in transactions of the same size.
func rosterScenario(ctx context.Context, h *harness) ([]row, error) {
	if p := h.missingProgram("roster", "registry"); p != "" {
		return skippedRows("registry ImportRetirees", p), nil
	}
	reg, err := h.startRegistry(ctx)
	if err != nil {
		return nil, err
	}
	defer h.release(reg.child)
	conns, err := h.dial(reg.grpcAddr, 1)
	if err != nil {
		return nil, err
	}
	defer closeAll(conns)
	client := registryv1.NewRegistryServiceClient(conns[0])
	communities, enterprises, err := seedReferences(ctx, client, seedCommunities)
	if err != nil {
		return nil, err
	}
	var genErr error
	record := func(i int) *registryv1.RetireeRecord {
		r, err := benchRetiree(i, communities, enterprises)
		if err != nil && genErr == nil {
			genErr = err
		}
		return &registryv1.RetireeRecord{Index: int64(i + 1), Retiree: r}
	}
	h.log.Printf("streaming a roster of %s retirees", formatCount(importRecords))
	rate, err := streamImport(ctx, rosterStream(client, record), rosterBatch, importRecords)
	if err := errors.Join(err, genErr); err != nil {
		return nil, err
	}
	h.log.Printf("raw bbolt puts of the same records")
	sample, err := benchRetiree(0, communities, enterprises)
	if err != nil {
		return nil, err
	}
	rawRate, err := rawRosterPuts(filepath.Join(h.dir, "raw-roster.db"), sample)
	if err != nil {
		return nil, err
	}
	return []row{
		{
			What:  fmt.Sprintf("raw bbolt: the 9 puts (11 with a flag) of each of %s retirees, %d retirees per transaction (reference)", formatCount(importRecords), importGroup),
			Value: formatRate(rawRate, "records"),
		},
		{
			What:     fmt.Sprintf("registry ImportRetirees: %s new retirees on one stream, durable at ack", formatCount(importRecords)),
			Value:    formatRate(rate, "records"),
			Compared: percentOf(rate, rawRate, "raw bbolt"),
			Goal:     fmt.Sprintf("≥ %s records/s", formatCount(goalRosterRate)),
			Result:   verdict(rate >= goalRosterRate),
		},
	}, nil
}

// rosterStream is ImportRetirees of the records record returns. Its
// acknowledgements are read as pension's, which have the same shape, so
// that streamImport drives both services' imports.
func rosterStream(client registryv1.RegistryServiceClient, record func(i int) *registryv1.RetireeRecord) importStream {
	return importStream{open: func(ctx context.Context) (importClient, error) {
		stream, err := client.ImportRetirees(ctx)
		return grpcImport[registryv1.ImportRetireesRequest, registryv1.ImportRetireesResponse]{
			stream: stream,
			header: func(h *pensionv1.ImportHeader) *registryv1.ImportRetireesRequest {
				return &registryv1.ImportRetireesRequest{Message: &registryv1.ImportRetireesRequest_Header{Header: &registryv1.RetireeImportHeader{
					BatchId: h.BatchId, FormatVersion: h.FormatVersion, ExpectedRecords: h.ExpectedRecords,
				}}}
			},
			record: func(i int) *registryv1.ImportRetireesRequest {
				return &registryv1.ImportRetireesRequest{Message: &registryv1.ImportRetireesRequest_Record{Record: record(i)}}
			},
			answer: rosterAnswer,
		}, err
	}}
}

// rosterAnswer reads an ImportRetirees answer as pension's.
func rosterAnswer(r *registryv1.ImportRetireesResponse) (*pensionv1.ImportAck, *pensionv1.ImportSummary) {
	var ack *pensionv1.ImportAck
	if a := r.GetAck(); a != nil {
		ack = &pensionv1.ImportAck{DurableThroughIndex: a.DurableThroughIndex}
		for _, rj := range a.Rejections {
			ack.Rejections = append(ack.Rejections, &pensionv1.RecordRejection{Index: rj.Index, Reason: rj.Reason, Message: rj.Message})
		}
	}
	var sum *pensionv1.ImportSummary
	if s := r.GetSummary(); s != nil {
		sum = &pensionv1.ImportSummary{BatchId: s.BatchId, Received: s.Received, Accepted: s.Accepted, Duplicates: s.Duplicates,
			Corrections: s.Corrections, Rejected: s.Rejected, LastIndex: s.LastIndex}
	}
	return ack, sum
}

// rosterBuckets are the buckets an imported retiree is put in: the
// retiree, its ID-number key, the community and enterprise indexes, the
// counters, the change log, the history, and the birth-date indexes
// city-wide and by community (and those by flag, for a third of them).
var rosterBuckets = []string{"retirees", "by_idkey", "by_community", "by_enterprise", "stats", "changes", "history", "by_birth", "by_community_birth", "by_flag", "by_community_flag"}

// rawRosterPuts makes in a fresh bbolt file, opened as the services open
// theirs, the puts of importRecords imported retirees, importGroup per
// transaction, with keys of the shapes the registry's (ids sharing a
// random prefix per transaction, random ID-number keys, revisions in
// order) and values the size of sample's encoding, and returns the rate.
// Only the transactions are timed.
func rawRosterPuts(path string, sample *registryv1.Retiree) (rate float64, err error) {
	db, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		return 0, err
	}
	defer func() { err = errors.Join(err, db.Close(), os.Remove(path)) }()
	names := make([][]byte, len(rosterBuckets))
	for i, n := range rosterBuckets {
		names[i] = []byte(n)
	}
	if err := boltstore.CreateBuckets(db, names...); err != nil {
		return 0, err
	}
	value, err := proto.Marshal(sample)
	if err != nil {
		return 0, err
	}
	var elapsed time.Duration
	var rev uint64
	for done := 0; done < importRecords; done += importGroup {
		n := min(importGroup, importRecords-done)
		puts, err := rosterGroupPuts(done, n, &rev, value, sample)
		if err != nil {
			return 0, err
		}
		t0 := time.Now()
		err = db.Update(func(tx *bolt.Tx) error {
			for _, p := range puts {
				if err := tx.Bucket(names[p.bucket]).Put(p.k, p.v); err != nil {
					return err
				}
			}
			return nil
		})
		elapsed += time.Since(t0)
		if err != nil {
			return 0, err
		}
	}
	return float64(importRecords) / elapsed.Seconds(), nil
}

// rawPut is one put of rawRosterPuts.
type rawPut struct {
	bucket int
	k, v   []byte
}

// rosterGroupPuts returns the puts of one transaction of the n retirees
// from the first, born as benchRetiree's are.
func rosterGroupPuts(first, n int, rev *uint64, value []byte, sample *registryv1.Retiree) ([]rawPut, error) {
	ids := inputcheck.NewOpaqueIDGroup()
	puts := make([]rawPut, 0, n*len(rosterBuckets))
	born := time.Date(1940, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := first; i < first+n; i++ {
		birth := born.AddDate(0, 0, i%birthDays).Format(time.DateOnly)
		id := []byte(ids.Next())
		var salt [8]byte
		if _, err := rand.Read(salt[:]); err != nil {
			return nil, err
		}
		idKey := sha256.Sum256(salt[:])
		*rev++
		puts = append(puts,
			rawPut{0, id, value},
			rawPut{1, idKey[:], id},
			rawPut{2, append([]byte(sample.CommunityId+"\x00"), id...), nil},
			rawPut{3, append([]byte(sample.EnterpriseCreditCode+"\x00"), id...), nil},
			rawPut{4, []byte(sample.CommunityId), value[:min(len(value), 40)]},
			rawPut{5, boltstore.U64(*rev), value},
			rawPut{6, boltstore.AppendU64(append(id, 0), *rev), value},
			rawPut{7, boltstore.Key(birth, string(id)), nil},
			rawPut{8, boltstore.Key(sample.CommunityId, birth, string(id)), nil},
		)
		if i%3 == 0 {
			puts = append(puts,
				rawPut{9, boltstore.Key("02", birth, string(id)), nil},
				rawPut{10, boltstore.Key(sample.CommunityId, "02", birth, string(id)), nil})
		}
	}
	return puts, nil
}
