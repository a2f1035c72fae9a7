// Package procflags checks and applies the settings that every socmgmt
// program takes on its command line, the four services and the gateway
// alike: the address it serves on, its admin port, how it logs, how long a
// shutdown waits and how hard the garbage collector works. Each program
// registers its own flags, since their defaults and help differ, and
// reports the problems found here in its own error type.
package procflags

import (
	"fmt"
	"net"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/socmgmt/socmgmt/internal/logging"
)

// DefaultShutdownTimeout is how long a shutdown waits for in-flight calls
// unless told otherwise.
const DefaultShutdownTimeout = 10 * time.Second

// DefaultGCPercent lets the heap grow to five times the live data before
// a collection. The programs' live heaps are small (tens of MiB), so this
// costs little memory and saves much of the collector's CPU at high
// request rates.
const DefaultGCPercent = 400

// Common is the part of a program's configuration that every program has.
type Common struct {
	// ListenFlag names the flag of ListenAddr ("grpc-addr", "http-addr"),
	// for the messages.
	ListenFlag string
	// ListenAddr is the host:port the program serves its API on; required.
	ListenAddr string
	// AdminAddr is the host:port of the admin HTTP port, or empty for none.
	AdminAddr string
	// LogFormat and LogLevel are as logging.New takes them.
	LogFormat, LogLevel string
	// ShutdownTimeout bounds the wait for in-flight calls at shutdown.
	ShutdownTimeout time.Duration
	// GCPercent is the garbage collector's target (GOGC); 0 keeps the
	// runtime's setting.
	GCPercent int
}

// Problems returns one message for each unusable setting of c, naming its
// flag, or none when every setting is usable.
func (c Common) Problems() []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if c.ListenAddr == "" {
		add("--%s is required", c.ListenFlag)
	} else if err := CheckHostPort(c.ListenAddr); err != nil {
		add("--%s: %v", c.ListenFlag, err)
	}
	if c.AdminAddr != "" {
		if err := CheckHostPort(c.AdminAddr); err != nil {
			add("--admin-addr: %v", err)
		} else if c.AdminAddr == c.ListenAddr {
			add("--admin-addr must differ from --%s", c.ListenFlag)
		}
	}
	if logging.CheckFormat(c.LogFormat) != nil {
		add("--log-format must be json or console")
	}
	if _, err := logging.ParseLevel(c.LogLevel); err != nil {
		add("--log-level must be debug, info, warn or error")
	}
	if c.ShutdownTimeout <= 0 {
		add("--shutdown-timeout must be positive")
	}
	if c.GCPercent < 0 {
		// A negative GOGC turns the collector off: a long-running server's
		// heap would grow until the machine runs out of memory.
		add("--gc-percent must not be negative (0 keeps the runtime's setting)")
	}
	return problems
}

// CheckHostPort accepts "host:port" with a numeric port; the host may be
// empty (all interfaces), which net.Listen and grpc both understand.
func CheckHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return nil
}

// ApplyGCPercent sets the garbage collector's target to percent, or keeps
// the runtime's setting when it is 0. Mains call it once, before serving.
func ApplyGCPercent(percent int) {
	if percent != 0 {
		debug.SetGCPercent(percent)
	}
}
