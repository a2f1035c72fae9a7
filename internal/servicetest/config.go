package servicetest

import (
	"errors"
	"flag"
	"slices"
	"strings"
	"testing"

	"github.com/socmgmt/socmgmt/internal/grpcserver"
)

// ConfigCase is one set of arguments a service's ParseConfig must refuse.
type ConfigCase struct {
	Name string
	Args []string
	// Want is text the error must contain.
	Want string
	// Shared marks a flag of grpcserver.Flags, which every service shares:
	// its error must also wrap grpcserver.ErrInvalidOption.
	Shared bool
}

// SharedFlagCases are the refusals of the flags every service shares,
// each given after base, the arguments the service needs to get that far.
// Every service's config test runs them, so that none drops the shared
// validation.
func SharedFlagCases(base []string) []ConfigCase {
	after := func(args ...string) []string { return slices.Concat(base, args) }
	return []ConfigCase{
		{"no gRPC address", after("--grpc-addr", ""), "--grpc-addr is required", true},
		{"gRPC address without port", after("--grpc-addr", "localhost"), "--grpc-addr: address localhost: missing port in address", true},
		{"unknown log format", after("--log-format", "xml"), "--log-format must be json or console", true},
		{"unknown log level", after("--log-level", "loud"), "--log-level must be debug, info, warn or error", true},
		{"zero shutdown timeout", after("--shutdown-timeout", "0s"), "--shutdown-timeout must be positive", true},
		{"collector off", after("--gc-percent", "-1"), "--gc-percent must not be negative", true},
	}
}

// RefuseConfigs checks in a subtest per case that parse refuses the case's
// arguments with an error saying its Want, and that --help is answered
// with flag.ErrHelp.
func RefuseConfigs[C any](t *testing.T, parse func([]string) (C, error), cases []ConfigCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			_, err := parse(tc.Args)
			if err == nil || !strings.Contains(err.Error(), tc.Want) {
				t.Errorf("ParseConfig(%q) = %v, want an error about %s", tc.Args, err, tc.Want)
			}
			if tc.Shared && !errors.Is(err, grpcserver.ErrInvalidOption) {
				t.Errorf("ParseConfig(%q) = %v, want it to wrap ErrInvalidOption", tc.Args, err)
			}
		})
	}
	if _, err := parse([]string{"--help"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v, want flag.ErrHelp", err)
	}
}

// MustParseConfig is the config that parse makes of args, which must be
// valid, such as the flags scripts/devrun starts a service with.
func MustParseConfig[C any](t *testing.T, parse func([]string) (C, error), args []string) C {
	t.Helper()
	c, err := parse(args)
	if err != nil {
		t.Fatalf("ParseConfig(%q): %v", args, err)
	}
	return c
}
