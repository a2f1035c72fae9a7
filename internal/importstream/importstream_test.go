package importstream

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"

	"google.golang.org/grpc"

	"github.com/socmgmt/socmgmt/internal/fault"
)

// msg is a request of the fake stream: a header or a record.
type msg struct {
	header *Header
	record *int
}

// fakeStream is a client's side played back: the requests it sends, and
// the responses the server sends it.
type fakeStream struct {
	grpc.ServerStream
	ctx  context.Context
	in   []*msg
	sent []string
}

func (f *fakeStream) Context() context.Context { return f.ctx }

func (f *fakeStream) Recv() (*msg, error) {
	if len(f.in) == 0 {
		return nil, io.EOF
	}
	m := f.in[0]
	f.in = f.in[1:]
	return m, nil
}

func (f *fakeStream) RecvMsg(m any) error {
	next, err := f.Recv()
	if err != nil {
		return err
	}
	*m.(*msg) = *next
	return nil
}

func (f *fakeStream) Send(s *string) error {
	f.sent = append(f.sent, *s)
	return nil
}

func newStream(t *testing.T, max int64, in ...*msg) (*Stream[msg, string, *int, int], *fakeStream) {
	f := &fakeStream{ctx: t.Context(), in: in}
	return &Stream[msg, string, *int, int]{
		Server: f,
		Header: func(m *msg) (Header, bool) {
			if m.header == nil {
				return Header{}, false
			}
			return *m.header, true
		},
		Record:     func(m *msg) *int { return m.record },
		MaxRecords: max,
		MaxGroup:   2,
		Fail:       func(err error) error { return err },
	}, f
}

func record(n int) *msg { return &msg{record: &n} }

// TestStream runs a stream through: its header, records checked in order
// and committed in groups of at most MaxGroup, each acknowledged.
func TestStream(t *testing.T) {
	t.Parallel()
	st, f := newStream(t, 10, &msg{header: &Header{BatchID: "b-1", FormatVersion: 1, ExpectedRecords: 3}}, record(1), record(2), record(3))
	h, err := st.RecvHeader()
	if err != nil || h.BatchID != "b-1" {
		t.Fatalf("RecvHeader = %v, %v", h, err)
	}
	records, recvErr := st.Receive(t.Context(), func(n *int) int { return 10 * *n })
	var committed []int
	err = st.CommitGroups(records, func(group []int) (*string, error) {
		if len(group) > 2 {
			t.Errorf("group of %d, over MaxGroup", len(group))
		}
		committed = append(committed, group...)
		ack := "ack"
		return &ack, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-recvErr; err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(committed, []int{10, 20, 30}) || len(f.sent) < 2 {
		t.Errorf("committed %v, sent %v", committed, f.sent)
	}
}

// TestStreamRefusals: a stream must open with a valid header and stay
// within its bound, and carry only records after the header.
func TestStreamRefusals(t *testing.T) {
	t.Parallel()
	header := func(h Header) *msg { return &msg{header: &h} }
	for _, tc := range []struct {
		name      string
		in        []*msg
		field     string
		limit     bool
		recvField string
		recvLimit bool
	}{
		{name: "no message", field: "header"},
		{name: "record first", in: []*msg{record(1)}, field: "header"},
		{name: "bad batch id", in: []*msg{header(Header{BatchID: "a b"})}, field: "header.batchId"},
		{name: "format", in: []*msg{header(Header{BatchID: "b", FormatVersion: 2})}, field: "header.formatVersion"},
		{name: "negative", in: []*msg{header(Header{BatchID: "b", ExpectedRecords: -1})}, field: "header.expectedRecords"},
		{name: "announced too many", in: []*msg{header(Header{BatchID: "b", ExpectedRecords: 3})}, limit: true},
		{name: "second header", in: []*msg{header(Header{BatchID: "b"}), header(Header{BatchID: "b"})}, recvField: "record"},
		{name: "sent too many", in: []*msg{header(Header{BatchID: "b"}), record(1), record(2), record(3)}, recvLimit: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, _ := newStream(t, 2, tc.in...)
			_, err := st.RecvHeader()
			if tc.field != "" || tc.limit {
				wantRefusal(t, err, tc.field, tc.limit)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			records, recvErr := st.Receive(t.Context(), func(n *int) int { return *n })
			for range records {
			}
			wantRefusal(t, <-recvErr, tc.recvField, tc.recvLimit)
		})
	}
}

func wantRefusal(t *testing.T, err error, field string, limit bool) {
	t.Helper()
	var ve *fault.ValidationError
	var re *fault.RuleError
	switch {
	case limit && (!errors.As(err, &re) || re.Reason != ReasonTooManyRecords):
		t.Errorf("error %v, want %s", err, ReasonTooManyRecords)
	case !limit && (!errors.As(err, &ve) || ve.Fields[0].Field != field):
		t.Errorf("error %v, want a violation of %s", err, field)
	}
}
