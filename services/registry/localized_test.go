package registry

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/socmgmt/socmgmt/gateway"
	"github.com/socmgmt/socmgmt/internal/apierror"
	"github.com/socmgmt/socmgmt/internal/gatewaytest"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// TestErrorsInChinese makes each kind of error the registry raises (a bad
// field, a broken rule, a conflict, a 403, a not-found, a missing token)
// twice: without accept-language the status is exactly what it always
// was, with no LocalizedMessage anywhere; with accept-language: zh-CN it
// is the same status plus the Chinese of the whole and of each field.
func TestErrorsInChinese(t *testing.T) {
	s, h := newServed(t)
	r := mustCreate(t, s, newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY))
	bad := newRetiree(t, 2, communityA, pb.ManagementMode_COMMUNITY)
	bad.IdNumber, bad.RetirementDate = "12345", "2010-13-01"
	clerkB := servicetest.Clerk("clerk-b", communityB)
	c := h.client
	for _, tc := range []struct {
		name     string
		call     func(lang func(context.Context) context.Context) error
		code     codes.Code
		wantZH   string
		fieldsZH map[string]string
	}{
		{
			name: "bad fields",
			call: func(lang func(context.Context) context.Context) error {
				_, err := c.CreateRetiree(lang(h.as(clerkP)), &pb.CreateRetireeRequest{Retiree: bad})
				return err
			},
			code:   codes.InvalidArgument,
			wantZH: "请求有误：idNumber：须为 18 位，或旧版 15 位数字",
			fieldsZH: map[string]string{
				"idNumber":       "须为 18 位，或旧版 15 位数字",
				"retirementDate": "日期格式须为 YYYY-MM-DD",
			},
		},
		{
			name: "rule",
			call: func(lang func(context.Context) context.Context) error {
				_, err := c.ChangeRetireeStatus(lang(h.as(adminP)), &pb.ChangeRetireeStatusRequest{Id: r.Id, Status: pb.RetireeStatus_LIVING, EffectiveOn: "2026-01-02", Reason: "核实"})
				return err
			},
			code:   codes.FailedPrecondition,
			wantZH: "退休人员已是此状态",
		},
		{
			name: "conflict",
			call: func(lang func(context.Context) context.Context) error {
				_, err := c.CreateRetiree(lang(h.as(clerkP)), &pb.CreateRetireeRequest{Retiree: newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY)})
				return err
			},
			code:   codes.AlreadyExists,
			wantZH: "此身份证号码的退休人员已存在",
		},
		{
			name: "permission denied",
			call: func(lang func(context.Context) context.Context) error {
				_, err := c.GetRetiree(lang(h.as(clerkB)), &pb.GetRetireeRequest{Id: r.Id})
				return err
			},
			code:   codes.PermissionDenied,
			wantZH: "无权查看或办理此业务",
		},
		{
			name: "not found",
			call: func(lang func(context.Context) context.Context) error {
				_, err := c.GetRetiree(lang(h.as(adminP)), &pb.GetRetireeRequest{Id: "r-00000000000000000000000000"})
				return err
			},
			code:   codes.NotFound,
			wantZH: "未找到该退休人员",
		},
		{
			name: "no token",
			call: func(lang func(context.Context) context.Context) error {
				_, err := c.GetRetiree(lang(context.Background()), &pb.GetRetireeRequest{Id: r.Id})
				return err
			},
			code:   codes.Unauthenticated,
			wantZH: "请先登录",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plain := status.Convert(tc.call(func(ctx context.Context) context.Context { return ctx }))
			zh := status.Convert(tc.call(func(ctx context.Context) context.Context {
				return metadata.AppendToOutgoingContext(ctx, apierror.AcceptLanguageKey, "zh-CN")
			}))
			if plain.Code() != tc.code || zh.Code() != tc.code {
				t.Fatalf("codes %v and %v, want %v: %v", plain.Code(), zh.Code(), tc.code, plain.Message())
			}
			if _, n := localizedOf(t, plain.Proto()); n > 0 {
				t.Errorf("without accept-language: %d LocalizedMessages", n)
			}
			msg, _ := localizedOf(t, zh.Proto())
			if msg != tc.wantZH {
				t.Errorf("LocalizedMessage %q, want %q", msg, tc.wantZH)
			}
			seen := 0
			for _, fv := range badRequestOf(t, zh.Proto()).GetFieldViolations() {
				lm := fv.GetLocalizedMessage()
				if lm.GetLocale() != apierror.LocaleZH || lm.GetMessage() == "" {
					t.Errorf("%s: localized %v", fv.GetField(), lm)
				}
				if want, ok := tc.fieldsZH[fv.GetField()]; ok {
					seen++
					if lm.GetMessage() != want {
						t.Errorf("%s: %q, want %q", fv.GetField(), lm.GetMessage(), want)
					}
				}
			}
			if seen != len(tc.fieldsZH) {
				t.Errorf("%d of the fields %v in the BadRequest", seen, tc.fieldsZH)
			}
			if stripped := withoutLocalized(t, zh.Proto()); !proto.Equal(stripped, plain.Proto()) {
				t.Errorf("with the Chinese taken out, the status differs:\n%v\nwant\n%v", stripped, plain.Proto())
			}
		})
	}
}

// localizedOf returns the status's LocalizedMessage and how many there
// are, its own and its field violations'.
func localizedOf(t *testing.T, st *spb.Status) (string, int) {
	t.Helper()
	var (
		msg string
		n   int
	)
	for _, d := range detailsOf(t, st) {
		switch d := d.(type) {
		case *errdetails.LocalizedMessage:
			if d.GetLocale() != apierror.LocaleZH {
				t.Errorf("locale %q", d.GetLocale())
			}
			msg = d.GetMessage()
			n++
		case *errdetails.BadRequest:
			for _, fv := range d.GetFieldViolations() {
				if fv.GetLocalizedMessage() != nil {
					n++
				}
			}
		}
	}
	return msg, n
}

func badRequestOf(t *testing.T, st *spb.Status) *errdetails.BadRequest {
	t.Helper()
	for _, d := range detailsOf(t, st) {
		if br, ok := d.(*errdetails.BadRequest); ok {
			return br
		}
	}
	return nil
}

func detailsOf(t *testing.T, st *spb.Status) []proto.Message {
	t.Helper()
	out := make([]proto.Message, 0, len(st.GetDetails()))
	for _, a := range st.GetDetails() {
		m, err := a.UnmarshalNew()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// withoutLocalized is st without its LocalizedMessage and its field
// violations' ones.
func withoutLocalized(t *testing.T, st *spb.Status) *spb.Status {
	t.Helper()
	out := &spb.Status{Code: st.GetCode(), Message: st.GetMessage()}
	for _, d := range detailsOf(t, st) {
		switch d := d.(type) {
		case *errdetails.LocalizedMessage:
			continue
		case *errdetails.BadRequest:
			for _, fv := range d.GetFieldViolations() {
				fv.LocalizedMessage = nil
			}
		}
		a, err := anypb.New(d)
		if err != nil {
			t.Fatal(err)
		}
		out.Details = append(out.Details, a)
	}
	return out
}

// TestErrorsInChineseOverREST: through the gateway, the registry's own
// rendering reaches a REST client that asks with Accept-Language: the
// message and each field's, with the formats' numbers in place.
func TestErrorsInChineseOverREST(t *testing.T) {
	s := seededStore(t, 0)
	keys := servicetest.NewKeys(t)
	srv := servicetest.Serve(t, servicetest.Options{
		Name: "registry", Keys: keys, TCP: true,
		Register: func(srv *grpcserver.Server) {
			pb.RegisterRegistryServiceServer(srv.GRPC(), NewServer(s, ServerOptions{
				Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), Now: func() time.Time { return testNow }, Stopping: srv.Stopping(),
			}))
		},
	})
	rest := gatewaytest.Client(t, func(c *gateway.Config) { c.RegistryAddr = srv.Addr() })
	body := `{"idNumber":"12345","name":"张三","communityId":"` + communityA + `","managementMode":"COMMUNITY","retirementDate":"2010-13-01","flags":["LIVING_ALONE","AGED_80_PLUS"]}`
	for _, lang := range []string{"", "zh-CN"} {
		ctx := keys.As(t, clerkP)
		if lang != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, apierror.AcceptLanguageKey, lang)
		}
		st := status.Convert(rest(ctx, "POST", "/v1/retirees", body))
		if st.Code() != codes.InvalidArgument {
			t.Fatalf("%v, want InvalidArgument", st)
		}
		msg, n := localizedOf(t, st.Proto())
		if lang == "" {
			if n > 0 {
				t.Errorf("without Accept-Language: %d LocalizedMessages", n)
			}
			continue
		}
		if msg != "请求有误：idNumber：须为 18 位，或旧版 15 位数字" {
			t.Errorf("LocalizedMessage %q", msg)
		}
		want := map[string]string{"idNumber": "须为 18 位，或旧版 15 位数字", "retirementDate": "日期格式须为 YYYY-MM-DD", "flags": "AGED_80_PLUS 由出生日期计算得出，不能填写"}
		for _, fv := range badRequestOf(t, st.Proto()).GetFieldViolations() {
			if w, ok := want[fv.GetField()]; ok && fv.GetLocalizedMessage().GetMessage() != w {
				t.Errorf("%s: %v, want %q", fv.GetField(), fv.GetLocalizedMessage(), w)
			}
			delete(want, fv.GetField())
		}
		if len(want) > 0 {
			t.Errorf("not in the answer: %v", want)
		}
	}
}
