// Package importstream is the server side of the bulk-import protocol
// that the import RPCs of pension (payments, certifications, decisions)
// and registry (rosters) share: the first message is a header, then
// records with strictly increasing indexes; a receiving goroutine checks
// each record on its own while the handler commits what has arrived in
// groups, one transaction each, and acknowledges each group once it is
// durable; the caller's records in flight are bounded, and so is a
// stream. Each service frames the protocol in messages of its own (their
// APIs are theirs to keep), and keeps what is particular to its records:
// the check, the commit and the acknowledgement.
package importstream

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"

	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/gather"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/limits"
)

// ReasonTooManyRecords is the ErrorInfo reason of a stream over its
// bound.
const ReasonTooManyRecords = "TOO_MANY_RECORDS"

// Header is what an import stream's header says, whatever message
// carries it.
type Header struct {
	BatchID         string
	FormatVersion   int32
	ExpectedRecords int64
}

// Stream is the server side of one import stream with requests Req and
// responses Resp, whose records arrive as In and are checked into R.
type Stream[Req, Resp any, In comparable, R any] struct {
	// Server is the stream.
	Server grpc.BidiStreamingServer[Req, Resp]
	// Header returns the header a message carries, if it carries one.
	Header func(*Req) (Header, bool)
	// Record returns the record a message carries, or the zero In.
	Record func(*Req) In
	// MaxRecords bounds the records of the stream, MaxGroup those of one
	// commit.
	MaxRecords int64
	MaxGroup   int
	// InFlight counts the caller's records in flight (nil: unbounded).
	InFlight *limits.Records
	// Fail translates an error for the client.
	Fail func(error) error
}

// RecvHeader reads the stream's first message and checks that it is a
// header the import can follow. The error of a broken stream is returned
// as it is; any other is already translated for the client.
func (s *Stream[Req, Resp, In, R]) RecvHeader() (Header, error) {
	first, err := s.Server.Recv()
	if errors.Is(err, io.EOF) {
		return Header{}, s.Fail(fault.Invalid("header", "the stream must start with a header"))
	}
	if err != nil {
		return Header{}, err
	}
	h, ok := s.Header(first)
	if !ok {
		return Header{}, s.Fail(fault.Invalid("header", "the stream must start with a header"))
	}
	if err := h.check(s.MaxRecords); err != nil {
		return Header{}, s.Fail(err)
	}
	return h, nil
}

// check validates a header's fields, then its announced size against the
// stream's bound.
func (h Header) check(maxRecords int64) error {
	var v fault.Violations
	inputcheck.BatchID(&v, "header.batchId", h.BatchID)
	if h.FormatVersion != 0 && h.FormatVersion != 1 {
		v.Add("header.formatVersion", "only format 1 is known")
	}
	if h.ExpectedRecords < 0 {
		v.Add("header.expectedRecords", "must not be negative")
	}
	if err := v.Err(); err != nil {
		return err
	}
	if h.ExpectedRecords > maxRecords {
		return TooMany(maxRecords)
	}
	return nil
}

// TooMany is the refusal of a stream of more than maxRecords records.
func TooMany(maxRecords int64) error {
	return fault.Limit(ReasonTooManyRecords,
		fmt.Sprintf("an import stream may carry at most %d records; split the batch", maxRecords))
}

// Receive starts the goroutine that receives the records and checks
// each with check, so that checking overlaps the previous group's commit.
// It closes the returned records when it stops, then sends its result,
// nil when the client closed its side, on the returned error channel;
// cancelling ctx stops it. check runs on that goroutine only.
func (s *Stream[Req, Resp, In, R]) Receive(ctx context.Context, check func(In) R) (<-chan R, <-chan error) {
	records := make(chan R, 2*s.MaxGroup)
	recvErr := make(chan error, 1)
	go func() {
		defer close(records)
		recvErr <- s.receive(ctx, check, records)
	}()
	return records, recvErr
}

// receive reads records until the client closes its side (nil), the
// stream breaks, a message is not a record, or the stream goes over its
// bound. A record waits for its place in flight before it is queued, so
// that a caller's streams together hold at most its role's records in
// memory; the client's sends wait meanwhile, held back by flow control.
func (s *Stream[Req, Resp, In, R]) receive(ctx context.Context, check func(In) R, out chan<- R) error {
	var n int64
	var none In
	for {
		req := new(Req)
		if err := s.Server.RecvMsg(req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		in := s.Record(req)
		if in == none {
			return fault.Invalid("record", "only the first message may be a header")
		}
		if n++; n > s.MaxRecords {
			return TooMany(s.MaxRecords)
		}
		if err := s.InFlight.Acquire(ctx); err != nil {
			return err
		}
		select {
		case out <- check(in):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// CommitGroups commits the records as they arrive, each time as many as
// have arrived up to MaxGroup, and sends each group's acknowledgement
// once commit has made it durable, giving back the group's places in
// flight. It returns when records is closed, or with the error for the
// client: a failed commit translated, a failed send as it is.
func (s *Stream[Req, Resp, In, R]) CommitGroups(records <-chan R, commit func([]R) (*Resp, error)) error {
	group := make([]R, 0, s.MaxGroup)
	for r := range records {
		group = gather.Queued(append(group[:0], r), records, s.MaxGroup)
		ack, err := commit(group)
		if err != nil {
			return s.Fail(err)
		}
		s.InFlight.Release(len(group))
		if err := s.Server.Send(ack); err != nil {
			return err
		}
	}
	return nil
}
