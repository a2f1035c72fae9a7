package main

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// stackService is a service that `socmgmt seed` writes to, with its flag
// and its address in a stack laid out as `make run` lays it out.
type stackService struct {
	flag        string
	defaultAddr string
	addr        func(*seedConfig) *string
}

// stackServices are the services of a seed, registry first; the others'
// ports are at fixed offsets from registry's.
var stackServices = []stackService{
	{"registry", defaultRegistryAddr, func(c *seedConfig) *string { return &c.registryAddr }},
	{"handover", defaultHandoverAddr, func(c *seedConfig) *string { return &c.handoverAddr }},
	{"pension", defaultPensionAddr, func(c *seedConfig) *string { return &c.pensionAddr }},
	{"activity", defaultActivityAddr, func(c *seedConfig) *string { return &c.activityAddr }},
	{"casework", defaultCaseworkAddr, func(c *seedConfig) *string { return &c.caseworkAddr }},
}

// applyStack gives the services whose flags were not set (set reports
// which were) addresses in the same stack, so that a seed never writes
// part of a city into another stack that happens to listen on the
// default ports:
//
//   - --stack HOST puts every service on HOST at `make run`'s ports;
//   - otherwise --registry HOST:PORT puts the others on HOST at `make
//     run`'s offsets from PORT (registry on 19101 gives handover 19102,
//     pension 19103, activity 19104, casework 19105);
//   - a service's own flag always wins, and an empty one skips it.
//
// Without --stack and --registry every service keeps its default.
func (c *seedConfig) applyStack(stack string, set func(flag string) bool) error {
	host, delta := "", 0
	switch {
	case stack != "":
		if strings.ContainsAny(stack, ":[]") && net.ParseIP(stack) == nil {
			return fmt.Errorf("--stack %q: give a host; the ports are those of `make run` (%s)", stack, stackLayout())
		}
		host = stack
	case set("registry"):
		h, port, err := splitPort(c.registryAddr)
		if err != nil {
			return fmt.Errorf("--registry %q: %w", c.registryAddr, err)
		}
		_, base, _ := splitPort(defaultRegistryAddr)
		host, delta = h, port-base
	default:
		return nil
	}
	for _, s := range stackServices {
		if set(s.flag) {
			continue
		}
		_, port, _ := splitPort(s.defaultAddr)
		if port+delta > 65535 {
			return fmt.Errorf("--%s: port %d is past 65535; give --%s", s.flag, port+delta, s.flag)
		}
		*s.addr(c) = net.JoinHostPort(host, strconv.Itoa(port+delta))
	}
	return nil
}

// splitPort splits host:port, the port a number.
func splitPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return "", 0, errors.New("the port is not a number from 0 to 65535")
	}
	return host, int(port), nil
}

// stackLayout describes `make run`'s ports, for messages.
func stackLayout() string {
	parts := make([]string, len(stackServices))
	for i, s := range stackServices {
		_, port, _ := splitPort(s.defaultAddr)
		parts[i] = fmt.Sprintf("%s :%d", s.flag, port)
	}
	return strings.Join(parts, ", ")
}
