package apierror

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/socmgmt/socmgmt/internal/fault"
)

// LocalizeError adds the Chinese rendering to err when the call of ctx
// asks for Chinese (see ChineseAsked) and err is a status without one;
// anything else comes back as it was. The services' outermost
// interceptor passes every error through it, so that the statuses made
// outside ToStatus (authentication, limits, a panic) are rendered too.
func LocalizeError(ctx context.Context, err error) error {
	if err == nil || !ChineseAsked(ctx) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok || st.Code() == codes.OK {
		return err
	}
	return Localize(st, nil).Err()
}

// Localize returns st with a google.rpc.LocalizedMessage in LocaleZH and
// a LocalizedMessage on each field violation of its BadRequest that has
// none, or st as it is when it has its Chinese already (an upstream's,
// passed on). forms, when given, says
// how the field violations' descriptions were formatted (in their order).
func Localize(st *status.Status, forms []fault.Form) *status.Status {
	p := st.Proto()
	var (
		reason  string
		meta    map[string]string
		firstFV *errdetails.BadRequest_FieldViolation
	)
	for i, a := range p.GetDetails() {
		m, err := a.UnmarshalNew()
		if err != nil {
			continue
		}
		switch d := m.(type) {
		case *errdetails.LocalizedMessage:
			if d.GetLocale() == LocaleZH {
				return st
			}
		case *errdetails.ErrorInfo:
			reason, meta = d.GetReason(), d.GetMetadata()
		case *errdetails.BadRequest:
			for j, fv := range d.GetFieldViolations() {
				var f fault.Form
				if j < len(forms) {
					f = forms[j]
				}
				if fv.GetLocalizedMessage() == nil {
					fv.LocalizedMessage = &errdetails.LocalizedMessage{Locale: LocaleZH, Message: describeZH(fv.GetField(), fv.GetDescription(), f)}
				}
			}
			if len(d.GetFieldViolations()) > 0 {
				firstFV = d.GetFieldViolations()[0]
			}
			if b, err := anypb.New(d); err == nil {
				p.Details[i] = b
			}
		}
	}
	msg := messageZH(st.Code(), st.Message(), reason, meta, firstFV)
	if lm, err := anypb.New(&errdetails.LocalizedMessage{Locale: LocaleZH, Message: msg}); err == nil {
		p.Details = append(p.Details, lm)
	}
	return status.FromProto(p)
}

// messageZH is the Chinese of a status: its reason's, its message's, the
// first field violation's, or its code's.
func messageZH(code codes.Code, msg, reason string, meta map[string]string, fv *errdetails.BadRequest_FieldViolation) string {
	if zh, ok := reasonsZH[reason]; ok {
		return fillMetadata(zh, meta)
	}
	if zh, ok := textZH(messagesZH, messageFormats, msg); ok {
		return zh
	}
	switch {
	case code == codes.InvalidArgument && fv != nil:
		return "请求有误：" + fv.GetField() + "：" + fv.GetLocalizedMessage().GetMessage()
	case code == codes.NotFound || code == codes.AlreadyExists:
		if noun, ok := nounsZH[strings.ToLower(firstWord(msg))]; ok {
			if code == codes.NotFound {
				return "未找到该" + noun
			}
			return "该" + noun + "已存在"
		}
	}
	if zh, ok := codesZH[code]; ok {
		return zh
	}
	return codesZH[codes.Unknown]
}

// describeZH is the Chinese of a field violation: by the format it was
// made with, by its text, or a generic one naming the field.
func describeZH(field, desc string, f fault.Form) string {
	if f.Format != "" {
		if zh, ok := descriptionsZH[f.Format]; ok {
			return fmt.Sprintf(zh, f.Args...)
		}
	}
	for _, prefix := range []string{"", "creditcode: ", "idnumber: "} {
		if zh, ok := textZH(descriptionsZH, descriptionFormats, strings.TrimPrefix(desc, prefix)); ok && strings.HasPrefix(desc, prefix) {
			return zh
		}
	}
	return fmt.Sprintf(violationZH, field)
}

// textZH renders text by catalogue: its own entry, else the first format
// entry whose pattern it matches, with the values it holds in place of
// the verbs.
func textZH(catalogue map[string]string, formats []format, text string) (string, bool) {
	if zh, ok := catalogue[text]; ok && !verbRE.MatchString(text) {
		return zh, true
	}
	for _, f := range formats {
		if m := f.re.FindStringSubmatch(text); m != nil {
			args := make([]any, len(m)-1)
			for i, s := range m[1:] {
				args[i] = s
			}
			return fmt.Sprintf(f.zh, args...), true
		}
	}
	return "", false
}

// format is a catalogue entry with verbs, as a pattern of the texts it
// makes and its Chinese with every verb taking a string.
type format struct {
	re *regexp.Regexp
	zh string
}

var (
	verbRE = regexp.MustCompile(`%(\[\d+\])?[-+# 0-9.]*[dsqvx]`)
	// descriptionFormats and messageFormats are the patterns of the
	// catalogues' entries with verbs.
	descriptionFormats = compileFormats(descriptionsZH)
	messageFormats     = compileFormats(messagesZH)
	// placeholderRE is a {key} the rule's metadata did not fill, with
	// the brackets around it.
	placeholderRE = regexp.MustCompile(`（?\{[A-Za-z_]+\}）?`)
)

// compileFormats makes the patterns of a catalogue's entries with verbs,
// longest first, so that the most specific matches.
func compileFormats(cat map[string]string) []format {
	keys := make([]string, 0, len(cat))
	for k := range cat {
		if verbRE.MatchString(k) {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if len(keys[i]) != len(keys[j]) {
			return len(keys[i]) > len(keys[j])
		}
		return keys[i] < keys[j]
	})
	out := make([]format, 0, len(keys))
	for _, k := range keys {
		var b strings.Builder
		b.WriteString("^")
		last := 0
		for _, loc := range verbRE.FindAllStringIndex(k, -1) {
			b.WriteString(regexp.QuoteMeta(k[last:loc[0]]))
			switch k[loc[1]-1] {
			case 'd':
				b.WriteString(`(-?\d+)`)
			case 'q':
				b.WriteString(`("(?:[^"\\]|\\.)*")`)
			default:
				b.WriteString(`(.+?)`)
			}
			last = loc[1]
		}
		b.WriteString(regexp.QuoteMeta(k[last:]) + "$")
		zh := verbRE.ReplaceAllString(cat[k], "%${1}s")
		out = append(out, format{re: regexp.MustCompile(b.String()), zh: zh})
	}
	return out
}

// fillMetadata replaces each {key} of zh with the metadata's value.
func fillMetadata(zh string, meta map[string]string) string {
	if !strings.Contains(zh, "{") {
		return zh
	}
	for k, v := range meta {
		if v != "" {
			zh = strings.ReplaceAll(zh, "{"+k+"}", v)
		}
	}
	return placeholderRE.ReplaceAllString(zh, "")
}

func firstWord(s string) string {
	w, _, _ := strings.Cut(s, " ")
	return strings.TrimSuffix(w, ":")
}
