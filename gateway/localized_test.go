package gateway

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/socmgmt/socmgmt/internal/apierror"
	"github.com/socmgmt/socmgmt/internal/waitfor"
)

// TestAcceptLanguageGoesUpstream: a client that prefers Chinese is
// passed on as accept-language: zh-CN, whatever it wrote; any other
// header, or none, sends nothing, so that the service answers as before.
func TestAcceptLanguageGoesUpstream(t *testing.T) {
	t.Parallel()
	up, url := startBehindGateway(t)
	for _, tc := range []struct {
		header string
		want   []string
	}{
		{"", nil},
		{"zh-CN", []string{"zh-CN"}},
		{"en;q=0.5, zh-Hans-CN", []string{"zh-CN"}},
		{"fr, zh;q=0.1", []string{"zh-CN"}},
		{"en-US,en;q=0.9,zh-CN;q=0.8", nil},
		{"*", nil},
		{"zh;q=0, *", nil},
		{strings.Repeat("x-", 2000) + ", zh", nil},
	} {
		header := map[string]string{"Authorization": "Bearer aaa.bbb.ccc"}
		if tc.header != "" {
			header["Accept-Language"] = tc.header
		}
		sendWant(t, newRequest(t, http.MethodGet, url+"/v1/retirees/r-1", "", header), http.StatusOK)
		md := up.fake.lastCall(t).md
		if got := md.Get(apierror.AcceptLanguageKey); !equalStrings(got, tc.want) {
			t.Errorf("Accept-Language %.40q: accept-language metadata %q, want %q", tc.header, got, tc.want)
		}
		for key := range md {
			if strings.Contains(key, "language") && key != apierror.AcceptLanguageKey {
				t.Errorf("Accept-Language %.40q: metadata %q reached the service", tc.header, key)
			}
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestErrorsInChinese: every error a REST client can get, the gateway's
// own and an upstream's, carries with Accept-Language: zh-CN a
// google.rpc.LocalizedMessage and a localizedMessage per field violation,
// and without it is the same answer with neither.
func TestErrorsInChinese(t *testing.T) {
	t.Parallel()
	_, base := startFullGateway(t, func(c *Config) { c.MaxBodyBytes = 1 << 10 })
	auth := map[string]string{"Authorization": "Bearer aaa.bbb.ccc"}
	for _, tc := range []struct {
		name, method, path, body string
		header                   map[string]string
		code                     int
		wantZH                   string
		fieldsZH                 map[string]string
	}{
		{name: "upstream refusal", method: http.MethodGet, path: "/v1/retirees/code-5", header: auth,
			code: http.StatusNotFound, wantZH: "未找到该记录"},
		{name: "upstream conflict on If-Match", method: http.MethodPatch, path: "/v1/retirees/r-1", body: `{"name":"李四"}`,
			header: map[string]string{"Authorization": "Bearer aaa.bbb.ccc", "If-Match": `"` + staleEtag + `"`},
			code:   http.StatusPreconditionFailed, wantZH: "该记录已被他人修改，请刷新后重试"},
		{name: "If-Match of a read not the record's", method: http.MethodGet, path: "/v1/retirees/r-1",
			header: map[string]string{"Authorization": "Bearer aaa.bbb.ccc", "If-Match": `"r5"`},
			code:   http.StatusPreconditionFailed, wantZH: "该记录已被他人修改，请刷新后重试"},
		{name: "no such route", method: http.MethodGet, path: "/v1/nothing", code: http.StatusNotFound, wantZH: "没有此接口"},
		{name: "wrong method", method: http.MethodPut, path: "/v1/retirees/r-1", code: http.StatusMethodNotAllowed,
			wantZH: "此接口不支持该请求方法（支持 GET, HEAD, PATCH）"},
		{name: "body too large", method: http.MethodPost, path: "/v1/retirees", body: `{"retiree":{"name":"` + strings.Repeat("张", 1000) + `"}}`,
			header: auth, code: http.StatusRequestEntityTooLarge, wantZH: "请求内容超过 1024 字节"},
		{name: "not JSON", method: http.MethodPost, path: "/v1/retirees", body: `{"retiree":`, header: auth,
			code: http.StatusBadRequest, wantZH: "请求内容不完整，不是有效的 JSON"},
		{name: "not JSON at all", method: http.MethodPost, path: "/v1/retirees", body: `retiree`, header: auth,
			code: http.StatusBadRequest},
		{name: "unknown JSON field", method: http.MethodPost, path: "/v1/retirees", body: `{"retiree":{"shoeSize":42}}`, header: auth,
			code: http.StatusBadRequest, wantZH: "请求有误：retiree：未知字段", fieldsZH: map[string]string{"retiree": "未知字段"}},
		{name: "unknown query parameter", method: http.MethodGet, path: "/v1/retirees?shoeSize=42", header: auth,
			code: http.StatusBadRequest, wantZH: "请求有误：shoeSize：不是此接口的查询参数", fieldsZH: map[string]string{"shoeSize": "不是此接口的查询参数"}},
		{name: "bad If-Match", method: http.MethodPatch, path: "/v1/retirees/r-1", body: `{"name":"李四"}`,
			header: map[string]string{"Authorization": "Bearer aaa.bbb.ccc", "If-Match": "r7, r8"},
			code:   http.StatusBadRequest, fieldsZH: map[string]string{"If-Match": `请给出一个 ETag（与响应头中的一致），或 "*"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ask := func(lang string) *spb.Status {
				h := map[string]string{}
				for k, v := range tc.header {
					h[k] = v
				}
				if lang != "" {
					h["Accept-Language"] = lang
				}
				if tc.body != "" {
					h["Content-Type"] = "application/json"
				}
				body := sendWant(t, newRequest(t, tc.method, base+tc.path, tc.body, h), tc.code).body
				// What the console reads: the JSON names of the details.
				if lang != "" && !localizedJSON.Match(body) {
					t.Errorf("no LocalizedMessage in %s", body)
				}
				if lang != "" && len(tc.fieldsZH) > 0 && !fieldLocalizedJSON.Match(body) {
					t.Errorf("no localizedMessage of a field in %s", body)
				}
				return statusOf(t, body)
			}
			checkLocalized(t, ask(""), ask("zh-CN,zh;q=0.9,en;q=0.8"), tc.wantZH, tc.fieldsZH)
		})
	}
}

// The JSON the console reads (web/console/src/api.ts): the status's
// LocalizedMessage and a field violation's localizedMessage. protojson
// puts spaces where it likes.
var (
	localizedJSON      = regexp.MustCompile(`"@type":\s*"type\.googleapis\.com/google\.rpc\.LocalizedMessage",\s*"locale":\s*"zh-CN",\s*"message":\s*"[^"]`)
	fieldLocalizedJSON = regexp.MustCompile(`"localizedMessage":\s*\{\s*"locale":\s*"zh-CN",\s*"message":\s*"[^"]`)
)

// TestTimeoutInChinese: the 504 the gateway answers for an upstream that
// does not answer in time.
func TestTimeoutInChinese(t *testing.T) {
	t.Parallel()
	cfg := testConfig(stalledGRPC(t))
	cfg.UpstreamTimeout = 300 * time.Millisecond
	_, url := startGateway(t, cfg, zaptest.NewLogger(t))
	ask := func(lang string) *spb.Status {
		ctx, cancel := waitfor.Context(t)
		defer cancel()
		h := map[string]string{"Authorization": "Bearer x.y.z"}
		if lang != "" {
			h["Accept-Language"] = lang
		}
		req := newRequest(t, http.MethodGet, url+"/v1/communities/210102001001", "", h)
		return statusOf(t, sendWant(t, req.WithContext(ctx), http.StatusGatewayTimeout).body)
	}
	checkLocalized(t, ask("en"), ask("zh-CN"), "服务响应超时，请稍后再试", nil)
}

// checkLocalized checks that zh carries the Chinese wanted, of the whole
// (when wantZH is given) and of the fields named, a localizedMessage on
// every field violation, and that plain is zh without them.
func checkLocalized(t *testing.T, plain, zh *spb.Status, wantZH string, fieldsZH map[string]string) {
	t.Helper()
	var seen int
	for _, a := range plain.GetDetails() {
		if strings.HasSuffix(a.GetTypeUrl(), "LocalizedMessage") {
			t.Errorf("without Accept-Language: %v", a)
		}
	}
	stripped := &spb.Status{Code: zh.GetCode(), Message: zh.GetMessage()}
	for _, a := range zh.GetDetails() {
		m, err := a.UnmarshalNew()
		if err != nil {
			t.Fatal(err)
		}
		switch d := m.(type) {
		case *errdetails.LocalizedMessage:
			if d.GetLocale() != "zh-CN" || (wantZH != "" && d.GetMessage() != wantZH) || d.GetMessage() == "" {
				t.Errorf("LocalizedMessage %v, want zh-CN %q", d, wantZH)
			}
			seen++
			continue
		case *errdetails.BadRequest:
			for _, fv := range d.GetFieldViolations() {
				lm := fv.GetLocalizedMessage()
				if want, ok := fieldsZH[fv.GetField()]; (ok && lm.GetMessage() != want) || lm.GetLocale() != "zh-CN" {
					t.Errorf("%s: localized %v, want %q", fv.GetField(), lm, want)
				}
				if plainHasField(t, plain, fv.GetField()) && lm == nil {
					t.Errorf("%s: no localizedMessage", fv.GetField())
				}
				delete(fieldsZH, fv.GetField())
				fv.LocalizedMessage = nil
			}
		}
		b, err := anypb.New(m)
		if err != nil {
			t.Fatal(err)
		}
		stripped.Details = append(stripped.Details, b)
	}
	if seen != 1 {
		t.Errorf("%d LocalizedMessages, want 1", seen)
	}
	if len(fieldsZH) > 0 {
		t.Errorf("fields %v not in the answer", fieldsZH)
	}
	if !proto.Equal(stripped, plain) {
		t.Errorf("with the Chinese taken out:\n%v\nwithout Accept-Language:\n%v", stripped, plain)
	}
}

func plainHasField(t *testing.T, st *spb.Status, field string) bool {
	t.Helper()
	for _, a := range st.GetDetails() {
		var br errdetails.BadRequest
		if a.UnmarshalTo(&br) == nil {
			for _, fv := range br.GetFieldViolations() {
				if fv.GetField() == field {
					return true
				}
			}
		}
	}
	return false
}

// statusOf decodes an error body, which must be google.rpc.Status JSON.
func statusOf(t *testing.T, body []byte) *spb.Status {
	t.Helper()
	st := new(spb.Status)
	if err := protojson.Unmarshal(body, st); err != nil {
		t.Fatalf("not a google.rpc.Status: %v\n%s", err, body)
	}
	return st
}

// TestUnavailableRewriteIgnoresLocalized: a service's Unavailable that
// carries only its Chinese rendering is still an upstream outage to the
// gateway (its own message, its warning), whatever the language asked.
func TestUnavailableRewriteIgnoresLocalized(t *testing.T) {
	t.Parallel()
	plain := status.New(codes.Unavailable, "registry is unavailable: cannot tell whether the community exists; try again")
	localized, err := plain.WithDetails(&errdetails.LocalizedMessage{Locale: "zh-CN", Message: "服务暂不可用"})
	if err != nil {
		t.Fatal(err)
	}
	withInfo, err := plain.WithDetails(&errdetails.ErrorInfo{Reason: "STORAGE_UNAVAILABLE"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		st   *status.Status
		want bool
	}{{plain, false}, {localized, false}, {withInfo, true}} {
		if got := hasDetailsBesideLocalized(c.st); got != c.want {
			t.Errorf("%v: got %v, want %v", c.st.Details(), got, c.want)
		}
	}
}
