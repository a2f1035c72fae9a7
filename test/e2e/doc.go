// Package e2e holds socmgmt's end-to-end tests. They build the real
// binaries, start them on free loopback ports with their own keys and data
// directory, and talk REST and gRPC to them as a client would. They are
// skipped under -short.
package e2e
