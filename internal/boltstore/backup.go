package boltstore

import (
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
)

// BackupHandler serves a consistent copy of db to GET requests, for the
// admin port: `curl -o registry.db http://127.0.0.1:9201/debug/backup`. The copy is taken
// in one read transaction, so writes carry on meanwhile; but bbolt cannot
// grow its memory map while a read transaction is open, so a slow download
// of a growing database can hold up writers. A response shorter than its
// Content-Length is a failed backup.
func BackupHandler(db *bolt.DB, log *zap.Logger) http.Handler {
	if log == nil {
		log = zap.NewNop()
	}
	name := filepath.Base(db.Path())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		start := time.Now()
		var written int64
		started := false
		err := db.View(func(tx *bolt.Tx) error {
			h := w.Header()
			h.Set("Content-Type", "application/octet-stream")
			h.Set("Content-Length", strconv.FormatInt(tx.Size(), 10))
			h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
			h.Set("Cache-Control", "no-store")
			started = true
			var err error
			written, err = tx.WriteTo(w)
			return err
		})
		if err != nil {
			log.Error("backup failed", zap.String("path", db.Path()), zap.Int64("bytes", written), zap.Error(err))
			if !started {
				http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			}
			return
		}
		log.Info("backup sent", zap.String("path", db.Path()), zap.Int64("bytes", written),
			zap.Duration("took", time.Since(start)))
	})
}
