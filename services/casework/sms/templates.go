package sms

import (
	"errors"
	"fmt"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// DefaultMaxRunes bounds a rendered message: two or three SMS segments,
// as much as an elder reads on a phone screen.
const DefaultMaxRunes = 200

// DefaultSignature is the prefix of every message: platforms in China
// require a bracketed signature the operator has registered.
const DefaultSignature = "【社区服务】"

// Bounds of the particulars a caller passes from other services' data.
const (
	maxSignatureRunes = 20
	maxNameRunes      = 32
	maxTextRunes      = 64
)

// templateTexts are the templates per event. Each is a Go text/template
// over Data; date and clock format a time in China's time zone
// ("2026年12月7日", "14:30").
var templateTexts = map[pb.MessageEvent]string{
	pb.MessageEvent_CERTIFICATION_DUE_SOON: `{{.Signature}}{{.Name}}，您好！您的养老金领取资格认证将于{{date .DueDate}}到期，` +
		`请在到期前通过手机或到{{or .Community "所在社区"}}办理认证，以免影响待遇发放。已办理请忽略。`,
	pb.MessageEvent_ACTIVITY_CHANGED: `{{.Signature}}{{.Name}}，您好！您报名的活动“{{.Activity}}”有变更，` +
		`现为{{date .Start}} {{clock .Start}}{{with .Place}}，地点：{{.}}{{end}}。{{with .Detail}}{{.}}。{{end}}` +
		`如有疑问请联系{{or .Community "所在社区"}}。`,
	pb.MessageEvent_ACTIVITY_CANCELLED: `{{.Signature}}{{.Name}}，您好！您报名的{{date .Start}} {{clock .Start}}的活动“{{.Activity}}”已取消` +
		`{{with .Detail}}（{{.}}）{{end}}，给您带来不便，敬请谅解。{{with .Community}}如有疑问请联系{{.}}。{{end}}`,
	pb.MessageEvent_WAITLIST_PROMOTED: `{{.Signature}}{{.Name}}，您好！您已由候补转为正式报名：活动“{{.Activity}}”，` +
		`时间{{date .Start}} {{clock .Start}}{{with .Place}}，地点：{{.}}{{end}}。如不能参加，请及时告知{{or .Community "所在社区"}}。`,
	pb.MessageEvent_COMPLAINT_RESOLVED: `{{.Signature}}{{.Name}}，您好！您反映的诉求{{with .Ticket}}（编号{{.}}）{{end}}已办结` +
		`{{with .Detail}}：{{.}}{{end}}。我们将回访听取您的评价{{with .Community}}，如有意见请联系{{.}}{{end}}。`,
}

// events is the order the templates are listed in.
var events = []pb.MessageEvent{
	pb.MessageEvent_CERTIFICATION_DUE_SOON,
	pb.MessageEvent_ACTIVITY_CHANGED,
	pb.MessageEvent_ACTIVITY_CANCELLED,
	pb.MessageEvent_WAITLIST_PROMOTED,
	pb.MessageEvent_COMPLAINT_RESOLVED,
}

// Addressee is whom a message addresses.
type Addressee struct {
	// Name is the retiree's name on the roster.
	Name string
	// Sex picks 先生 or 女士 after the surname.
	Sex registryv1.Sex
	// Preferred is the name the retiree asked to be addressed by
	// (MessagePreferences.preferred_name); it wins when set.
	Preferred string
}

// Particulars are what an event's message tells; which ones an event
// needs is checked by Render.
type Particulars struct {
	// CommunityName names the retiree's community, e.g. "幸福里社区";
	// optional.
	CommunityName string
	// DueDate is when a certification falls due (CERTIFICATION_DUE_SOON).
	DueDate time.Time
	// Activity is the activity's title (the activity events).
	Activity string
	// Start is when the activity starts, as it now stands.
	Start time.Time
	// Place is where it is; optional.
	Place string
	// Ticket is the complaint's number (COMPLAINT_RESOLVED); optional.
	Ticket string
	// Detail is a short addition: what changed, why it was cancelled, how
	// the complaint was resolved; optional.
	Detail string
}

// Data is what a template sees.
type Data struct {
	Signature, Name, Community string
	Activity, Place, Ticket    string
	Detail                     string
	DueDate, Start             time.Time
}

// Renderer renders the templates with the operator's signature.
type Renderer struct {
	signature string
	maxRunes  int
	loc       *time.Location
	templates map[pb.MessageEvent]*template.Template
}

// NewRenderer returns a Renderer that prefixes signature and refuses a
// rendering longer than maxRunes characters (DefaultMaxRunes when zero).
// Dates and times are shown in loc.
func NewRenderer(signature string, maxRunes int, loc *time.Location) (*Renderer, error) {
	if maxRunes <= 0 {
		maxRunes = DefaultMaxRunes
	}
	if loc == nil {
		return nil, errors.New("sms: no time zone for the templates")
	}
	var v fault.Violations
	inputcheck.Text(&v, "signature", signature, false, maxSignatureRunes)
	if err := v.Err(); err != nil {
		return nil, err
	}
	r := &Renderer{signature: signature, maxRunes: maxRunes, loc: loc, templates: map[pb.MessageEvent]*template.Template{}}
	funcs := template.FuncMap{
		"date":  func(t time.Time) string { return FormatDate(t.In(loc)) },
		"clock": func(t time.Time) string { return t.In(loc).Format("15:04") },
	}
	for _, e := range events {
		t, err := template.New(e.String()).Funcs(funcs).Option("missingkey=error").Parse(templateTexts[e])
		if err != nil {
			return nil, fmt.Errorf("sms: template %s: %w", e, err)
		}
		r.templates[e] = t
	}
	return r, nil
}

// FormatDate writes a date as Chinese text does: 2026年12月7日.
func FormatDate(t time.Time) string {
	return fmt.Sprintf("%d年%d月%d日", t.Year(), int(t.Month()), t.Day())
}

// Templates returns the template of each event, for ListMessageTemplates.
func Templates() []*pb.MessageTemplate {
	out := make([]*pb.MessageTemplate, 0, len(events))
	for _, e := range events {
		out = append(out, &pb.MessageTemplate{Event: e, Text: templateTexts[e]})
	}
	return out
}

// Render renders event's message to a, or returns a fault.Invalid naming
// the particular that is missing or malformed, or a rendering too long.
func (r *Renderer) Render(event pb.MessageEvent, a Addressee, p Particulars) (string, error) {
	t, ok := r.templates[event]
	if !ok {
		return "", fault.Invalid("event", "not an event with a message template")
	}
	if err := checkParticulars(event, a, p); err != nil {
		return "", err
	}
	d := Data{
		Signature: r.signature, Name: AddressAs(a), Community: p.CommunityName,
		Activity: p.Activity, Place: p.Place, Ticket: p.Ticket, Detail: p.Detail,
		DueDate: p.DueDate, Start: p.Start,
	}
	var b strings.Builder
	if err := t.Execute(&b, d); err != nil {
		return "", fmt.Errorf("sms: rendering %s: %w", event, err)
	}
	text := b.String()
	if n := utf8.RuneCountInString(text); n > r.maxRunes {
		return "", fault.Invalid("text", fmt.Sprintf("the %s message would be %d characters, more than %d", event, n, r.maxRunes))
	}
	return text, nil
}

// checkParticulars checks what event's template needs and the text that
// comes from elsewhere: one line each, bounded.
func checkParticulars(event pb.MessageEvent, a Addressee, p Particulars) error {
	var v fault.Violations
	inputcheck.Text(&v, "addressee.preferred", a.Preferred, false, maxNameRunes)
	inputcheck.Text(&v, "addressee.name", a.Name, a.Preferred == "", maxNameRunes)
	inputcheck.Text(&v, "particulars.communityName", p.CommunityName, false, maxTextRunes)
	inputcheck.Text(&v, "particulars.place", p.Place, false, maxTextRunes)
	inputcheck.Text(&v, "particulars.ticket", p.Ticket, false, maxNameRunes)
	inputcheck.Text(&v, "particulars.detail", p.Detail, false, maxTextRunes)
	switch event {
	case pb.MessageEvent_CERTIFICATION_DUE_SOON:
		if p.DueDate.IsZero() {
			v.Add("particulars.dueDate", "required for "+event.String())
		}
	case pb.MessageEvent_ACTIVITY_CHANGED, pb.MessageEvent_ACTIVITY_CANCELLED, pb.MessageEvent_WAITLIST_PROMOTED:
		inputcheck.Text(&v, "particulars.activity", p.Activity, true, maxTextRunes)
		if p.Start.IsZero() {
			v.Add("particulars.start", "required for "+event.String())
		}
	}
	return v.Err()
}

// compoundSurnames are the two-character surnames common enough to meet.
var compoundSurnames = []string{
	"欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙",
	"宇文", "司徒", "夏侯", "令狐", "端木", "独孤", "南宫", "西门", "呼延", "轩辕",
}

// AddressAs is how a message addresses a: the preferred name when set,
// else the surname with 先生 or 女士, else (sex unknown) the full name.
func AddressAs(a Addressee) string {
	if a.Preferred != "" {
		return a.Preferred
	}
	var title string
	switch a.Sex {
	case registryv1.Sex_MALE:
		title = "先生"
	case registryv1.Sex_FEMALE:
		title = "女士"
	default:
		return a.Name
	}
	return Surname(a.Name) + title
}

// Surname is the surname of a Chinese name: a known compound surname, or
// the first character.
func Surname(name string) string {
	for _, s := range compoundSurnames {
		if strings.HasPrefix(name, s) && utf8.RuneCountInString(name) > 2 {
			return s
		}
	}
	_, n := utf8.DecodeRuneInString(name)
	return name[:n]
}
