package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSeedStackFlags parses seed command lines and checks the address of
// every service the seed would write to: one stack, whichever flags say
// where it is, and never the default ports of another.
func TestSeedStackFlags(t *testing.T) {
	t.Parallel()
	type addrs struct{ Registry, Handover, Pension, Activity string }
	defaults := addrs{"127.0.0.1:9101", "127.0.0.1:9102", "127.0.0.1:9103", "127.0.0.1:9104"}
	for _, tc := range []struct {
		name    string
		args    []string
		want    addrs
		wantErr string
	}{
		{"defaults", nil, defaults, ""},
		{"registry at make run's port", []string{"--registry", "127.0.0.1:9101"}, defaults, ""},
		{"registry moved: the others follow it", []string{"--registry", "10.0.0.5:19101"},
			addrs{"10.0.0.5:19101", "10.0.0.5:19102", "10.0.0.5:19103", "10.0.0.5:19104"}, ""},
		{"registry moved below", []string{"--registry", "localhost:8101"},
			addrs{"localhost:8101", "localhost:8102", "localhost:8103", "localhost:8104"}, ""},
		{"registry moved, activity given", []string{"--registry", "10.0.0.5:9101", "--activity", "10.0.0.6:7000"},
			addrs{"10.0.0.5:9101", "10.0.0.5:9102", "10.0.0.5:9103", "10.0.0.6:7000"}, ""},
		{"registry moved, pension skipped", []string{"--registry", "10.0.0.5:9101", "--pension", ""},
			addrs{"10.0.0.5:9101", "10.0.0.5:9102", "", "10.0.0.5:9104"}, ""},
		{"stack", []string{"--stack", "10.0.0.5"},
			addrs{"10.0.0.5:9101", "10.0.0.5:9102", "10.0.0.5:9103", "10.0.0.5:9104"}, ""},
		{"stack on IPv6", []string{"--stack", "::1"},
			addrs{"[::1]:9101", "[::1]:9102", "[::1]:9103", "[::1]:9104"}, ""},
		{"stack, registry given", []string{"--stack", "10.0.0.5", "--registry", "10.0.0.9:9101"},
			addrs{"10.0.0.9:9101", "10.0.0.5:9102", "10.0.0.5:9103", "10.0.0.5:9104"}, ""},
		{"stack with a port", []string{"--stack", "10.0.0.5:9101"}, addrs{}, "give a host"},
		{"registry without a port", []string{"--registry", "10.0.0.5"}, addrs{}, "--registry"},
		{"registry with a bad port", []string{"--registry", "10.0.0.5:http"}, addrs{}, "--registry"},
		{"derived port past 65535", []string{"--registry", "10.0.0.5:65534"}, addrs{}, "--pension"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *seedConfig
			cmd := seedCommand(env{getenv: func(string) string { return "" }}, func(_ context.Context, cfg seedConfig, _, _ io.Writer) error {
				got = &cfg
				return nil
			})
			cmd.SetArgs(tc.args)
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			err := cmd.ExecuteContext(t.Context())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || got != nil {
					t.Fatalf("err = %v (seeded: %v), want an error about %s and no seed", err, got != nil, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, addrs{got.registryAddr, got.handoverAddr, got.pensionAddr, got.activityAddr}); diff != "" {
				t.Errorf("addresses (-want +got):\n%s", diff)
			}
		})
	}
}
