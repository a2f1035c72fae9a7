package limits

import (
	"slices"
	"strings"

	"google.golang.org/grpc"
)

// Class is what a method costs its caller. Each service states the
// class of every one of its methods in one Table.
type Class uint8

// The classes. The zero Class is no class: a method missing from its
// service's Table, which RunService refuses to serve.
const (
	// PersonalRead is a read that discloses a retiree's personal data
	// and is audited as such: a get, a look-up, a pension query, a list
	// of named retirees. A list page costs a token per pageEntries
	// entries it asks for.
	PersonalRead Class = iota + 1
	// Read is any other read.
	Read
	// Write is a change.
	Write
	// WriteRevealing is a create whose refusal as a duplicate
	// (ALREADY_EXISTS) tells the caller that the record is on file, as a
	// look-up would: it costs a write, and a personal-data read when it
	// is refused so. The create is refused while that budget is empty.
	WriteRevealing
	// Import is a stream of records, bounded by the records its caller
	// has in flight (see Records), not by calls.
	Import
)

// String names the class as the budget it draws on.
func (c Class) String() string {
	switch c {
	case PersonalRead:
		return namePersonal
	case Read:
		return nameRead
	case Write, WriteRevealing:
		return nameWrite
	case Import:
		return nameRecords
	}
	return "unclassified"
}

// Table is the class of each method of a service, by full method name
// ("/socmgmt.registry.v1.RegistryService/GetRetiree").
type Table map[string]Class

// bootstrapPrefixes are the services the grpcserver bootstrap registers
// itself, which are served without a token and not limited.
var bootstrapPrefixes = [...]string{"grpc.health.v1.", "grpc.reflection."}

// Unclassified returns, sorted, the full names of the methods of
// services (as grpc.Server.GetServiceInfo returns them) that t does not
// class, leaving out health and reflection.
func (t Table) Unclassified(services map[string]grpc.ServiceInfo) []string {
	var out []string
	for name, info := range services {
		if bootstrap(name) {
			continue
		}
		for _, m := range info.Methods {
			full := "/" + name + "/" + m.Name
			if t[full] == 0 {
				out = append(out, full)
			}
		}
	}
	slices.Sort(out)
	return out
}

func bootstrap(service string) bool {
	for _, p := range bootstrapPrefixes {
		if strings.HasPrefix(service, p) {
			return true
		}
	}
	return false
}
