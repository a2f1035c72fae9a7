package procflags

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func usable() Common {
	return Common{
		ListenFlag:      "grpc-addr",
		ListenAddr:      "127.0.0.1:9101",
		AdminAddr:       "127.0.0.1:9201",
		LogFormat:       "json",
		LogLevel:        "info",
		ShutdownTimeout: DefaultShutdownTimeout,
		GCPercent:       DefaultGCPercent,
	}
}

func TestProblems(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Common)
		want   []string
	}{
		{name: "usable", change: func(*Common) {}},
		{name: "all interfaces, no admin port, runtime GC", change: func(c *Common) { c.ListenAddr, c.AdminAddr, c.GCPercent = ":9101", "", 0 }},
		{name: "console debug upper case", change: func(c *Common) { c.LogFormat, c.LogLevel = "console", "DEBUG" }},
		{name: "no listen address", change: func(c *Common) { c.ListenAddr = "" }, want: []string{"--grpc-addr is required"}},
		{name: "the flag is named", change: func(c *Common) { c.ListenFlag, c.ListenAddr = "http-addr", "" }, want: []string{"--http-addr is required"}},
		{name: "listen address without port", change: func(c *Common) { c.ListenAddr = "localhost" }, want: []string{"--grpc-addr: address localhost: missing port in address"}},
		{name: "admin port out of range", change: func(c *Common) { c.AdminAddr = "127.0.0.1:70000" }, want: []string{`--admin-addr: port "70000" is not a number from 0 to 65535`}},
		{name: "admin on the listen address", change: func(c *Common) { c.AdminAddr = c.ListenAddr }, want: []string{"--admin-addr must differ from --grpc-addr"}},
		{name: "unknown log format", change: func(c *Common) { c.LogFormat = "xml" }, want: []string{"--log-format must be json or console"}},
		{name: "unknown log level", change: func(c *Common) { c.LogLevel = "loud" }, want: []string{"--log-level must be debug, info, warn or error"}},
		{name: "zero shutdown timeout", change: func(c *Common) { c.ShutdownTimeout = 0 }, want: []string{"--shutdown-timeout must be positive"}},
		{name: "negative shutdown timeout", change: func(c *Common) { c.ShutdownTimeout = -time.Second }, want: []string{"--shutdown-timeout must be positive"}},
		{name: "collector off", change: func(c *Common) { c.GCPercent = -1 }, want: []string{"--gc-percent must not be negative (0 keeps the runtime's setting)"}},
		{name: "every problem at once", change: func(c *Common) { *c = Common{ListenFlag: "grpc-addr", AdminAddr: "x", LogLevel: "loud"} }, want: []string{
			"--grpc-addr is required",
			"--admin-addr: address x: missing port in address",
			"--log-format must be json or console",
			"--log-level must be debug, info, warn or error",
			"--shutdown-timeout must be positive",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := usable()
			tc.change(&c)
			if diff := cmp.Diff(tc.want, c.Problems()); diff != "" {
				t.Errorf("Problems (-want +got):\n%s", diff)
			}
		})
	}
}
