package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// binDir returns a directory with a file named registry, as --bin wants.
func binDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "registry"), nil, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestParseConfig(t *testing.T) {
	t.Parallel()
	bin := binDir(t)
	defaults := config{
		Bin: bin, Retirees: 200_000, Duration: 10 * time.Second, Warmup: 2 * time.Second,
		Concurrency: 64, Conns: 4, LoadConcurrency: 128, Timeout: 45 * time.Minute, Watchers: 1000, Scenarios: "all", TLS: true,
		Reps: 3, CitySizes: []int{200_000, 500_000, 1_000_000, 2_000_000},
	}
	tests := []struct {
		name    string
		args    []string
		want    func(c *config)
		wantErr []string // flags the error must name
	}{
		{name: "defaults", args: nil, want: func(*config) {}},
		{name: "all set", args: []string{"--retirees", "1000", "--duration", "1s", "--warmup", "0s", "--concurrency", "8",
			"--conns", "2", "--load-concurrency", "16", "--timeout", "1m", "--scenarios", "registry", "--keep", "--tls=false",
			"--watchers", "70", "--reps", "5"},
			want: func(c *config) {
				c.Retirees, c.Duration, c.Warmup, c.Concurrency, c.Watchers, c.Reps = 1000, time.Second, 0, 8, 70, 5
				c.Conns, c.LoadConcurrency, c.Timeout, c.Scenarios, c.Keep, c.TLS = 2, 16, time.Minute, "registry", true, false
			}},
		{name: "out of range", args: []string{"--retirees", "0", "--duration", "0s", "--warmup", "-1s", "--concurrency", "0",
			"--conns", "65", "--load-concurrency", "5000", "--timeout", "0s", "--watchers", "0", "--reps", "0"},
			wantErr: []string{"--retirees", "--duration", "--warmup", "--concurrency", "--conns", "--load-concurrency", "--timeout", "--watchers", "--reps"}},
		{name: "a short city", args: []string{"--scenarios", "city", "--city-sizes", "20000, 50000"},
			want: func(c *config) { c.Scenarios, c.CitySizes = "city", []int{20_000, 50_000} }},
		{name: "unknown scenario", args: []string{"--scenarios", "registry,nope"}, wantErr: []string{`"nope"`}},
		{name: "no registry program", args: []string{"--bin", t.TempDir()}, wantErr: []string{"--bin"}},
		{name: "extra argument", args: []string{"registry"}, wantErr: []string{"unexpected arguments"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--bin", bin}, tc.args...)
			got, err := parseConfig(args, io.Discard)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatal("parseConfig succeeded, want an error")
				}
				for _, s := range tc.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %s", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := defaults
			tc.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("parseConfig (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseConfigHelp(t *testing.T) {
	var out strings.Builder
	_, err := parseConfig([]string{"--help"}, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("parseConfig(--help) = %v, want flag.ErrHelp", err)
	}
	if !strings.Contains(out.String(), "-retirees") || strings.Contains(out.String(), bareServerArg) {
		t.Errorf("help text lists the wrong flags:\n%s", out.String())
	}
}

func TestParseCitySizes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		list    string
		want    []int
		wantErr string
	}{
		{list: defaultCitySizes, want: []int{200_000, 500_000, 1_000_000, 2_000_000}},
		{list: " 6000 ", want: []int{6000}},
		{list: "3000000", want: []int{3_000_000}},
		{list: "", wantErr: "not a whole number"},
		{list: "20000,,50000", wantErr: "not a whole number"},
		{list: "2e6", wantErr: "not a whole number"},
		{list: "5999", wantErr: "between 6000 and 3000000"},
		{list: "3000001", wantErr: "between 6000 and 3000000"},
		{list: "50000,20000", wantErr: "sizes must grow"},
		{list: "20000,20000", wantErr: "sizes must grow"},
		{list: "10000,20000,30000,40000,50000,60000,70000,80000,90000", wantErr: "at most 8"},
	}
	for _, tc := range tests {
		t.Run(tc.list, func(t *testing.T) {
			got, err := parseCitySizes(tc.list)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseCitySizes(%q) = %v, %v; want an error saying %q", tc.list, got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("parseCitySizes(%q) (-want +got):\n%s", tc.list, diff)
			}
		})
	}
}

func TestSelectScenarios(t *testing.T) {
	names := func(scs []scenario) []string {
		var out []string
		for _, sc := range scs {
			out = append(out, sc.name)
		}
		return out
	}
	all := slices.DeleteFunc(scenarioNames(), func(name string) bool { return name == "city" })
	if diff := cmp.Diff(all, names(selectScenarios("all"))); diff != "" {
		t.Errorf("all (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"registry", "city"}, names(selectScenarios("city,registry"))); diff != "" {
		t.Errorf("city,registry (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"registry"}, names(selectScenarios(" registry "))); diff != "" {
		t.Errorf("registry (-want +got):\n%s", diff)
	}
	if got := selectScenarios("nope"); len(got) != 0 {
		t.Errorf("unknown name selected %v", names(got))
	}
}
