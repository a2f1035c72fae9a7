package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/socmgmt/socmgmt/internal/boltstore"
)

// benchReaders is the parallelism of the read benchmarks per CPU: the
// group commit only amortises with many reads in flight, as in a
// service under load.
const benchReaders = 32

// BenchmarkRead measures the audit hot path a service's read pays: one
// Log.Read of one retiree, from many goroutines at once. Queued reads
// return once their entries are queued; durable ones once committed.
// The nosync cases skip fsync, which on a shared disk is most of the
// time and all of the noise, to show the CPU the committer spends.
func BenchmarkRead(b *testing.B) {
	for _, bc := range []struct {
		name          string
		durable, sync bool
	}{{"queued", false, true}, {"durable", true, true}, {"queued-nosync", false, false}, {"durable-nosync", true, false}} {
		b.Run(bc.name, func(b *testing.B) {
			db, err := boltstore.Open(filepath.Join(b.TempDir(), "audit.db"), boltstore.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			db.NoSync = !bc.sync
			if err := boltstore.CreateBuckets(db, Bucket); err != nil {
				b.Fatal(err)
			}
			l := newLog(b, db, Options{Logger: zap.NewNop(), DurableReads: bc.durable, Checkpoints: benchCheckpoints(b)})
			defer l.Close()
			actor := Actor{Subject: "clerk-7", Role: "clerk", RequestID: "01HZY3V6Q8J8K2M7T4W9X0ABCD"}
			ctx := context.Background()
			b.ReportAllocs()
			b.SetParallelism(benchReaders)
			b.ResetTimer()
			b.RunParallel(func(p *testing.PB) {
				for p.Next() {
					if err := l.Read(ctx, actor, "GetRetiree", "aaaaaaaaaaaaaaaa"); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// benchCheckpoints signs as a service does, at the default cadence.
func benchCheckpoints(b *testing.B) Checkpoints {
	b.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	return Checkpoints{Service: "registry", Key: priv}
}

// BenchmarkNewRequest is the construction of a read's record, what every
// audited read allocates before it is queued.
func BenchmarkNewRequest(b *testing.B) {
	l := &Log{now: time.Now}
	actor := Actor{Subject: "clerk-7", Role: "clerk", RequestID: "01HZY3V6Q8J8K2M7T4W9X0ABCD"}
	b.ReportAllocs()
	for b.Loop() {
		if r := l.newRequest(actor, "GetRetiree", []string{"aaaaaaaaaaaaaaaa"}); len(r.entries) != 1 {
			b.Fatal("no entry")
		}
	}
}
