package servicedb

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"go.uber.org/zap"
)

// RotatePath is the admin route of data-key rotation (see
// Base.RotateHandler).
const RotatePath = "/debug/data-key/rotate"

// Bounds of a rotation batch's size.
const (
	DefaultRotateBatch = 1000
	MaxRotateBatch     = 10_000
)

// RotateBatch is the answer of one rotation batch, as JSON.
type RotateBatch struct {
	// KeyID is the data key the pass seals under.
	KeyID uint32 `json:"keyId"`
	// Examined is how many records the batch looked at, Resealed how many
	// of them it sealed again (those under another key).
	Examined int `json:"examined"`
	Resealed int `json:"resealed"`
	// Next is where the next batch starts; empty when the pass is done.
	Next string `json:"next,omitempty"`
}

// errKeyChanged answers a batch of a pass whose key is no longer the
// current one; errNoKeys a rotation of a store opened without data keys.
var (
	errKeyChanged = errors.New("the data key changed during the rotation: start it again")
	errNoKeys     = errors.New("this store was opened without data keys: it seals nothing")
)

// Rotate reseals one batch of the service's personal data under the
// newest data key, while the service serves. A pass starts with after
// empty: the key file is read again, and its newest key seals from then
// on; each batch then reseals up to limit records not yet under it, and
// names where the next starts, until a batch ends the pass, which records
// that only the newest key is in use (the others may then leave the key
// file, at a restart).
func (b *Base) Rotate(after string, limit int) (RotateBatch, error) {
	s := b.seal
	if len(s.buckets) == 0 || s.ring.Load() == nil {
		return RotateBatch{}, errNoKeys
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ring := s.ring.Load()
	var c cursor
	if after == "" {
		next, err := ring.Reload()
		if err != nil {
			return RotateBatch{}, err
		}
		if _, err := addDataKey(b.db, b.meta, next.Current()); err != nil {
			return RotateBatch{}, err
		}
		s.ring.Store(next)
		ring, c = next, cursor{key: next.Current()}
	} else {
		var err error
		if c, err = decodeCursor(after); err != nil {
			return RotateBatch{}, err
		}
		if c.bucket >= len(s.buckets) {
			return RotateBatch{}, errBadCursor
		}
		if c.key != ring.Current() {
			return RotateBatch{}, errKeyChanged
		}
	}
	c, r, err := b.resealBatch(b.meta, ring, c, limit)
	if err != nil {
		return r, err
	}
	if !c.done(len(s.buckets)) {
		r.Next = encodeCursor(c)
	}
	return r, nil
}

// encodeCursor writes c as an opaque token: key id, bucket index, the
// last key done, in base64url.
func encodeCursor(c cursor) string {
	v := binary.BigEndian.AppendUint32(nil, c.key)
	v = binary.BigEndian.AppendUint16(v, uint16(c.bucket)) //nolint:gosec // G115: a service has a handful of sealed buckets
	return base64.RawURLEncoding.EncodeToString(append(v, c.after...))
}

// errBadCursor answers a next token that is not one Rotate gave.
var errBadCursor = errors.New("after: not a token a rotation batch gave")

func decodeCursor(s string) (cursor, error) {
	v, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(v) < 6 {
		return cursor{}, errBadCursor
	}
	return cursor{
		key:    binary.BigEndian.Uint32(v),
		bucket: int(binary.BigEndian.Uint16(v[4:])),
		after:  v[6:],
	}, nil
}

// AdminRoutes are the store's routes on the service's admin port: the
// data-key rotation (RotatePath) when the store seals personal data,
// none otherwise.
func (b *Base) AdminRoutes(log *zap.Logger) map[string]http.Handler {
	if len(b.seal.buckets) == 0 {
		return nil
	}
	return map[string]http.Handler{RotatePath: b.RotateHandler(log)}
}

// RotateHandler serves Rotate to POST requests on the admin port
// (RotatePath, which an admin token guards): the query's after and limit
// (default DefaultRotateBatch, at most MaxRotateBatch) in, a RotateBatch
// as JSON out. `socmgmt rotate-data-key` calls it until the pass is done.
func (b *Base) RotateHandler(log *zap.Logger) http.Handler {
	if log == nil {
		log = zap.NewNop()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		limit := DefaultRotateBatch
		if s := r.URL.Query().Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > MaxRotateBatch {
				http.Error(w, fmt.Sprintf("limit: want a number from 1 to %d", MaxRotateBatch), http.StatusBadRequest)
				return
			}
			limit = n
		}
		after := r.URL.Query().Get("after")
		res, err := b.Rotate(after, limit)
		switch {
		case errors.Is(err, errBadCursor):
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		case errors.Is(err, errKeyChanged), errors.Is(err, errNoKeys):
			http.Error(w, err.Error(), http.StatusConflict)
			return
		case err != nil:
			log.Error("data key rotation failed", zap.Error(err))
			http.Error(w, "rotation failed: "+err.Error(), http.StatusInternalServerError)
			return
		}
		if after == "" || res.Next == "" {
			log.Info("data key rotation", zap.Uint32("data_key", res.KeyID), zap.Bool("started", after == ""), zap.Bool("done", res.Next == ""))
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(res)
	})
}
