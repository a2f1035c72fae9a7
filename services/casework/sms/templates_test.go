package sms

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/socmgmt/socmgmt/internal/fault"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

var update = flag.Bool("update", false, "rewrite the golden renderings in testdata")

// TestTemplatesGolden renders each event's template with full particulars
// and compares it with testdata/<event>.golden (go test -update rewrites
// them).
func TestTemplatesGolden(t *testing.T) {
	t.Parallel()
	r := newRenderer(t)
	start := at(2026, 12, 7, 14, 30)
	cases := map[pb.MessageEvent]Particulars{
		pb.MessageEvent_CERTIFICATION_DUE_SOON: {CommunityName: "幸福里社区", DueDate: at(2026, 12, 31, 0, 0)},
		pb.MessageEvent_ACTIVITY_CHANGED:       {CommunityName: "幸福里社区", Activity: "重阳节茶话会", Start: start, Place: "社区活动室二楼", Detail: "时间提前半小时"},
		pb.MessageEvent_ACTIVITY_CANCELLED:     {CommunityName: "幸福里社区", Activity: "太极拳晨练", Start: start, Detail: "因降雪"},
		pb.MessageEvent_WAITLIST_PROMOTED:      {CommunityName: "幸福里社区", Activity: "老年大学书法班", Start: start, Place: "社区老年学校"},
		pb.MessageEvent_COMPLAINT_RESOLVED:     {CommunityName: "幸福里社区", Ticket: "TS20261207001", Detail: "补发的11月养老金已到账"},
	}
	if len(cases) != len(events) {
		t.Fatalf("%d cases for %d templates", len(cases), len(events))
	}
	for event, p := range cases {
		t.Run(event.String(), func(t *testing.T) {
			t.Parallel()
			got, err := r.Render(event, wang, p)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", strings.ToLower(event.String())+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != strings.TrimSuffix(string(want), "\n") {
				t.Errorf("rendering:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestRenderOptionalParts: without a community or a place the text still
// reads, dates and times are China's whatever the instant's zone.
func TestRenderOptionalParts(t *testing.T) {
	t.Parallel()
	r := newRenderer(t)
	got, err := r.Render(pb.MessageEvent_WAITLIST_PROMOTED, Addressee{Name: "欧阳建国", Sex: registryv1.Sex_MALE},
		Particulars{Activity: "合唱团", Start: at(2027, 1, 5, 9, 5).UTC()})
	if err != nil {
		t.Fatal(err)
	}
	want := "【社区服务】欧阳先生，您好！您已由候补转为正式报名：活动“合唱团”，时间2027年1月5日 09:05。如不能参加，请及时告知所在社区。"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestAddressAs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a    Addressee
		want string
	}{
		{Addressee{Name: "王秀英", Sex: registryv1.Sex_FEMALE}, "王女士"},
		{Addressee{Name: "李建国", Sex: registryv1.Sex_MALE}, "李先生"},
		{Addressee{Name: "司马光明", Sex: registryv1.Sex_MALE}, "司马先生"},
		// A two-character name starting like a compound surname is not one.
		{Addressee{Name: "司马", Sex: registryv1.Sex_MALE}, "司先生"},
		{Addressee{Name: "张三", Sex: registryv1.Sex_SEX_UNSPECIFIED}, "张三"},
		{Addressee{Name: "王秀英", Sex: registryv1.Sex_FEMALE, Preferred: "王阿姨"}, "王阿姨"},
	} {
		if got := AddressAs(tc.a); got != tc.want {
			t.Errorf("AddressAs(%+v) = %q, want %q", tc.a, got, tc.want)
		}
	}
}

// TestRenderRefuses: missing particulars, text with line breaks and a
// rendering over the bound are refused with the field named.
func TestRenderRefuses(t *testing.T) {
	t.Parallel()
	r := newRenderer(t)
	start := at(2026, 12, 7, 14, 30)
	for _, tc := range []struct {
		name  string
		event pb.MessageEvent
		a     Addressee
		p     Particulars
		field string
	}{
		{"no due date", pb.MessageEvent_CERTIFICATION_DUE_SOON, wang, Particulars{}, "particulars.dueDate"},
		{"no activity", pb.MessageEvent_ACTIVITY_CANCELLED, wang, Particulars{Start: start}, "particulars.activity"},
		{"no start", pb.MessageEvent_ACTIVITY_CHANGED, wang, Particulars{Activity: "合唱团"}, "particulars.start"},
		{"no name", pb.MessageEvent_COMPLAINT_RESOLVED, Addressee{}, Particulars{}, "addressee.name"},
		{"line break", pb.MessageEvent_COMPLAINT_RESOLVED, wang, Particulars{Detail: "已办结\n请回电"}, "particulars.detail"},
		{"unknown event", pb.MessageEvent_MESSAGE_EVENT_UNSPECIFIED, wang, Particulars{}, "event"},
		{"too long", pb.MessageEvent_ACTIVITY_CHANGED, wang, Particulars{
			Activity: strings.Repeat("长", 64), Start: start, Place: strings.Repeat("地", 64), Detail: strings.Repeat("变", 64),
		}, "text"},
	} {
		_, err := r.Render(tc.event, tc.a, tc.p)
		var ve *fault.ValidationError
		if !errors.As(err, &ve) || len(ve.Fields) == 0 || ve.Fields[0].Field != tc.field {
			t.Errorf("%s: err %v, want a violation of %s", tc.name, err, tc.field)
		}
	}
}

// TestTemplatesListed: ListMessageTemplates gets every event's template,
// addressed and signed.
func TestTemplatesListed(t *testing.T) {
	t.Parallel()
	ts := Templates()
	if len(ts) != len(events) {
		t.Fatalf("%d templates", len(ts))
	}
	for _, mt := range ts {
		if !strings.HasPrefix(mt.Text, "{{.Signature}}{{.Name}}") || utf8.RuneCountInString(mt.Text) > 400 {
			t.Errorf("%s: %s", mt.Event, mt.Text)
		}
	}
}

// FuzzRender: particulars come from other services' data. Whatever they
// are, rendering either refuses them or gives one line within the bound
// that starts with the signature.
func FuzzRender(f *testing.F) {
	f.Add(int32(2), "王秀英", "王阿姨", "重阳节茶话会", "社区活动室", "时间提前", int64(1796608800))
	f.Add(int32(5), "", "", "", "", "已办结\n", int64(0))
	f.Add(int32(1), "司马光明", "", "", "", "", int64(-1))
	r, err := NewRenderer(DefaultSignature, 0, shanghai)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, event int32, name, preferred, activity, place, detail string, unix int64) {
		when := time.Unix(unix, 0)
		text, err := r.Render(pb.MessageEvent(event), Addressee{Name: name, Preferred: preferred, Sex: registryv1.Sex_FEMALE},
			Particulars{Activity: activity, Place: place, Detail: detail, Start: when, DueDate: when, CommunityName: place, Ticket: preferred})
		if err != nil {
			return
		}
		if !strings.HasPrefix(text, DefaultSignature) || utf8.RuneCountInString(text) > DefaultMaxRunes || strings.ContainsAny(text, "\r\n") {
			t.Errorf("rendering %q", text)
		}
	})
}
