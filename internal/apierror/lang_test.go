package apierror

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"
)

func TestWantsChinese(t *testing.T) {
	for header, want := range map[string]bool{
		"":                           false,
		"zh":                         true,
		"zh-CN":                      true,
		"zh-cn":                      true,
		"ZH-Hans":                    true,
		"zh-Hans-CN":                 true,
		"zh-TW":                      true, // Simplified reads better than English
		"zh-CN,zh;q=0.9,en;q=0.8":    true,
		"en":                         false,
		"en-US,en;q=0.9":             false,
		"en-US,en;q=0.9,zh-CN;q=0.8": false,
		"en;q=0.5, zh-Hans-CN":       true,
		"en;q=0.5,zh;q=0.5":          false, // equal: the first listed
		"zh;q=0.5,en;q=0.5":          true,
		"fr, zh;q=0.1":               true, // French is not spoken here
		"fr, de":                     false,
		"*":                          false,
		"*, zh;q=0.9":                false,
		"zh;q=0.9, *":                false, // any language first: English
		"zh;q=0, *":                  false,
		"zh;q=0":                     false,
		"zh;q=0.001":                 true,
		"zh;q=1.000":                 true,
		"zh;q=1.5":                   false, // not a q-value: the range is ignored
		"zh;q=0.1234":                false,
		"zh;q=abc":                   false,
		"zh;Q=0.8":                   true,
		"zh ; q = 0.8":               true,
		"zh;level=1":                 true,
		"zhx":                        false,
		"zh_CN":                      false,
		"zh-":                        false,
		"-zh":                        false,
		"1zh":                        false,
		"zh-123456789":               false, // a subtag of nine
		",,, zh":                     true,
		"en;q=0.1," + strings.Repeat("x,", 20) + "zh": false, // past the ranges read
		strings.Repeat(" ", 600) + "zh":               false, // past the bytes read
	} {
		if got := WantsChinese(header); got != want {
			t.Errorf("WantsChinese(%.60q) = %v, want %v", header, got, want)
		}
	}
}

func TestChineseAsked(t *testing.T) {
	for name, tc := range map[string]struct {
		md   metadata.MD
		want bool
	}{
		"no metadata":           {nil, false},
		"none":                  {metadata.Pairs("authorization", "Bearer x"), false},
		"accept-language":       {metadata.Pairs(AcceptLanguageKey, "zh-CN"), true},
		"as grpc-gateway sends": {metadata.Pairs("grpcgateway-accept-language", "zh-CN"), true},
		"English":               {metadata.Pairs(AcceptLanguageKey, "en"), false},
		"two values":            {metadata.Pairs(AcceptLanguageKey, "fr", AcceptLanguageKey, "zh"), true},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			if tc.md != nil {
				ctx = metadata.NewIncomingContext(ctx, tc.md)
			}
			if got := ChineseAsked(ctx); got != tc.want {
				t.Errorf("ChineseAsked = %v, want %v", got, tc.want)
			}
		})
	}
}

// FuzzWantsChinese: any header is answered without a panic, the same way
// each time, and a header that names no Chinese never asks for it; one
// that begins with Chinese of full quality always does.
func FuzzWantsChinese(f *testing.F) {
	for _, s := range []string{"", "zh-CN", "en;q=0.5, zh", "*", "zh;q=0", "zh;q=0.5;q=1", ";;;,,=", "zh-Hans-CN;q=0.999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		got := WantsChinese(header)
		if got != WantsChinese(header) {
			t.Fatal("two answers")
		}
		if got && !strings.Contains(strings.ToLower(header), "zh") {
			t.Fatalf("WantsChinese(%q) without zh", header)
		}
		if !WantsChinese("zh-CN," + header) {
			t.Fatalf("zh-CN first, then %q: not Chinese", header)
		}
	})
}
