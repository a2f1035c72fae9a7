package apierror

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/fault"
)

// zhCtx is the context of a call that asks for Chinese.
func zhCtx() context.Context {
	return metadata.NewIncomingContext(context.Background(), metadata.Pairs(AcceptLanguageKey, "zh-CN"))
}

// rendered returns the status's LocalizedMessage and its field
// violations' ones by field.
func rendered(t *testing.T, err error) (string, map[string]string) {
	t.Helper()
	var msg string
	fields := map[string]string{}
	for _, d := range status.Convert(err).Details() {
		switch d := d.(type) {
		case *errdetails.LocalizedMessage:
			if d.GetLocale() != LocaleZH {
				t.Errorf("locale %q", d.GetLocale())
			}
			msg = d.GetMessage()
		case *errdetails.BadRequest:
			for _, fv := range d.GetFieldViolations() {
				if fv.GetLocalizedMessage() == nil {
					continue
				}
				if fv.GetLocalizedMessage().GetLocale() != LocaleZH {
					t.Errorf("%s: locale %q", fv.GetField(), fv.GetLocalizedMessage().GetLocale())
				}
				fields[fv.GetField()] = fv.GetLocalizedMessage().GetMessage()
			}
		}
	}
	return msg, fields
}

func TestToStatusInChinese(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		want   string
		fields map[string]string
	}{
		{
			name: "violations: text, format with its arguments, Sprintf, %q, a package's prefix, unknown",
			err: func() error {
				var v fault.Violations
				v.Add("retiree.name", "required")
				v.Addf("households", "must be between 1 and %d", 500)
				v.Add("sessions", fmt.Sprintf("more than %d sessions", 52))
				v.Add("updateMask", fmt.Sprintf("unknown field %q", "shoe_size"))
				v.Add("creditCode", "creditcode: check character does not match")
				v.Add("retiree.shoeSize", "too large for the shoe")
				return v.Err()
			}(),
			want: "请求有误：retiree.name：必填",
			fields: map[string]string{
				"retiree.name":     "必填",
				"households":       "须在 1 至 500 之间",
				"sessions":         "超过 52 场",
				"updateMask":       `未知字段 "shoe_size"`,
				"creditCode":       "校验位不符",
				"retiree.shoeSize": "请求有误：retiree.shoeSize",
			},
		},
		{
			name: "two numbers in another order",
			err: func() error {
				var v fault.Violations
				v.Addf("funds", "%d of %d fen received", 300, 1000)
				return v.Err()
			}(),
			want:   "请求有误：funds：已收到 300 分（应收 1000 分）",
			fields: map[string]string{"funds": "已收到 300 分（应收 1000 分）"},
		},
		{
			name:   "proto field names become JSON names",
			err:    fault.Invalid("to_community_id", "no community with this id"),
			want:   "请求有误：toCommunityId：没有此编号的社区",
			fields: map[string]string{"toCommunityId": "没有此编号的社区"},
		},
		{
			name: "rule by its reason, filled from its metadata",
			err:  fault.Conflict("VOUCHER_ALREADY_RECORDED", "this voucher is already recorded", "voucherNo", "V-17"),
			want: "此凭证号已登记（V-17）",
		},
		{
			name: "rule without the metadata its Chinese names",
			err:  fault.Conflict("VOUCHER_ALREADY_RECORDED", "this voucher is already recorded"),
			want: "此凭证号已登记",
		},
		{
			name:   "rule naming items of the request",
			err:    &fault.RuleError{Reason: "HANDOVER_CHECKS_FAILED", Message: "1 problem", Fields: []fault.FieldViolation{{Field: "premises[0]", Description: "not inspected"}}},
			want:   "移交检查未通过，请按各项提示处理",
			fields: map[string]string{"premises[0]": "尚未查验"},
		},
		{name: "rule of an unknown reason", err: fault.Rule("NEW_RULE", "something new"), want: "当前状态不允许此操作"},
		{name: "limit of an unknown reason", err: fault.Limit("NEW_LIMIT", "too many things"), want: "超出限额，请稍后再试"},
		{name: "rate limit", err: fault.LimitRetry("RATE_LIMITED", "rate limit", 1), want: "操作过于频繁，请稍后再试"},
		{name: "not found", err: fault.ErrNotFound, want: "未找到该记录"},
		{name: "not found of a retiree", err: fmt.Errorf("retiree %s: %w", "r-7", fault.ErrNotFound), want: "未找到该退休人员"},
		{name: "not found of something unnamed", err: fmt.Errorf("gizmo %s: %w", "g-7", fault.ErrNotFound), want: "未找到该记录"},
		{name: "exists", err: fmt.Errorf("enterprise: %w", fault.ErrAlreadyExists), want: "该企业已存在"},
		{name: "etag", err: fmt.Errorf("update retiree: %w", fault.ErrEtagMismatch), want: "该记录已被他人修改，请刷新后重试"},
		{name: "permission", err: fault.ErrPermissionDenied, want: "无权查看或办理此业务"},
		{name: "storage", err: fault.ErrStorageUnavailable, want: "系统暂时无法保存，请稍后再试"},
		{name: "canceled", err: context.Canceled, want: "请求已取消"},
		{name: "deadline", err: context.DeadlineExceeded, want: "处理超时，请稍后再试"},
		{name: "internal", err: fmt.Errorf("boom"), want: "系统内部错误，请稍后再试或联系管理员"},
		{name: "status from elsewhere, by message", err: status.Error(codes.Unauthenticated, "invalid or expired token"), want: "登录已失效，请重新登录"},
		{name: "status from elsewhere, by code", err: status.Error(codes.OutOfRange, "page 9 of 3"), want: "超出允许的范围"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plain := ToStatus(context.Background(), nil, tc.err)
			zh := ToStatus(zhCtx(), nil, tc.err)
			msg, fields := rendered(t, zh)
			if msg != tc.want {
				t.Errorf("message %q, want %q", msg, tc.want)
			}
			for f, want := range tc.fields {
				if fields[f] != want {
					t.Errorf("%s: %q, want %q", f, fields[f], want)
				}
			}
			if len(fields) != len(tc.fields) {
				t.Errorf("fields %v, want %v", fields, tc.fields)
			}
			if m, f := rendered(t, plain); m != "" || len(f) > 0 {
				t.Errorf("without accept-language: %q %v", m, f)
			}
			// The rest of the status is what it is without Chinese.
			if st := status.Convert(zh); st.Message() != status.Convert(plain).Message() || st.Code() != status.Convert(plain).Code() {
				t.Errorf("status %v, without Chinese %v", st, status.Convert(plain))
			}
		})
	}
}

func TestLocalizeKeepsARendering(t *testing.T) {
	st := Localize(status.New(codes.NotFound, "retiree r-1: not found"), nil)
	again := Localize(st, nil)
	if !proto.Equal(st.Proto(), again.Proto()) {
		t.Errorf("rendered twice:\n%v\n%v", st.Proto(), again.Proto())
	}
	err := LocalizeError(zhCtx(), st.Err())
	if !proto.Equal(status.Convert(err).Proto(), st.Proto()) {
		t.Errorf("LocalizeError changed a rendered status")
	}
	if err := LocalizeError(context.Background(), status.Error(codes.NotFound, "x")); len(status.Convert(err).Details()) != 0 {
		t.Errorf("LocalizeError without accept-language added %v", status.Convert(err).Details())
	}
	if err := LocalizeError(zhCtx(), context.Canceled); !errors.Is(err, context.Canceled) {
		t.Errorf("LocalizeError of a non-status: %v", err)
	}
}

// TestCatalogue: each Chinese entry is Chinese and takes the arguments
// its English key takes.
func TestCatalogue(t *testing.T) {
	argIndex := regexp.MustCompile(`%\[(\d+)\]`)
	verbs := func(s string) int {
		n := len(verbRE.FindAllString(s, -1))
		for _, m := range argIndex.FindAllStringSubmatch(s, -1) {
			i, err := strconv.Atoi(m[1])
			if err != nil {
				t.Fatal(err)
			}
			n = max(n, i)
		}
		return n
	}
	for name, cat := range map[string]map[string]string{"descriptionsZH": descriptionsZH, "messagesZH": messagesZH, "reasonsZH": reasonsZH} {
		for en, zh := range cat {
			if !strings.ContainsFunc(zh, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
				t.Errorf("%s[%q] = %q: no Chinese", name, en, zh)
			}
			if verbs(en) != verbs(zh) {
				t.Errorf("%s[%q] = %q: %d verbs, want %d", name, en, zh, verbs(zh), verbs(en))
			}
			if strings.Contains(zh, "%!") || strings.Contains(fmt.Sprintf(zh, make([]any, verbs(zh))...), "%!(EXTRA") {
				t.Errorf("%s[%q] = %q: bad format", name, en, zh)
			}
		}
	}
	for c, zh := range codesZH {
		if zh == "" || c == codes.OK {
			t.Errorf("codesZH[%v] = %q", c, zh)
		}
	}
	for c := codes.Canceled; c <= codes.Unauthenticated; c++ {
		if _, ok := codesZH[c]; !ok {
			t.Errorf("code %v has no Chinese", c)
		}
	}
}

// TestRunTimeTexts: descriptions made at run time render by pattern.
func TestRunTimeTexts(t *testing.T) {
	for desc, want := range map[string]string{
		"in handover h-7f3a": "已在移交 h-7f3a 中",
		"missing materials without a written explanation: ID_COPY": "缺少材料且无书面说明：ID_COPY",
		"DEATH_CERTIFICATE is listed twice":                        "DEATH_CERTIFICATE 重复填写",
		"idnumber: check character does not match":                 "校验位不符",
		"at most 12 retirees per package":                          "每个移交包最多 12 名退休人员",
		"something nobody wrote down":                              "请求有误：f",
	} {
		if got := describeZH("f", desc, fault.Form{}); got != want {
			t.Errorf("describeZH(%q) = %q, want %q", desc, got, want)
		}
	}
}
