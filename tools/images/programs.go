package main

import "strings"

// program is one program of the repository and what its image says
// about it.
type program struct {
	// name is the program's name: its binary, its image (socmgmt/<name>)
	// and the prefix of its environment variables.
	name string
	// pkg is its main package, relative to the repository root.
	pkg string
	// description is the image's org.opencontainers.image.description.
	description string
	// listenFlag is the flag of the port it serves its API on (grpc-addr,
	// http-addr); empty for the operator's tool, which serves nothing.
	listenFlag string
	// apiPort and adminPort are its container ports: the API and the admin
	// HTTP port (/metrics, /healthz), as scripts/devrun numbers them.
	apiPort, adminPort int
	// stateful says that it keeps a bbolt file in --data-dir, which the
	// image declares as the volume dataDir.
	stateful bool
}

// service reports whether p serves (and so has ports and settings of its
// own in the image).
func (p program) service() bool { return p.listenFlag != "" }

// envName is the environment variable of p's flag: REGISTRY_DATA_DIR for
// registry's --data-dir.
func (p program) envName(flag string) string {
	return strings.ToUpper(p.name + "_" + strings.ReplaceAll(flag, "-", "_"))
}

// dataDir is where a stateful program keeps its file in the image.
const dataDir = "/var/lib/socmgmt"

// programs lists every program that ships, in the Makefile's order of
// PROGRAMS; the ports are the contract with deploy/kubernetes and
// deploy/compose.yaml.
var programs = []program{
	{name: "registry", pkg: "./services/registry/cmd/registry", listenFlag: "grpc-addr", apiPort: 9101, adminPort: 9201, stateful: true,
		description: "socmgmt registry: communities, enterprises, retirees and their change log (gRPC)"},
	{name: "gateway", pkg: "./gateway/cmd/gateway", listenFlag: "http-addr", apiPort: 8080, adminPort: 9200,
		description: "socmgmt gateway: the REST API and the clerks' web console in front of the gRPC services"},
	{name: "socmgmt", pkg: "./cmd/socmgmt",
		description: "socmgmt: the operator's tool (tokens, backups, imports, audit checks)"},
	{name: "activity", pkg: "./services/activity/cmd/activity", listenFlag: "grpc-addr", apiPort: 9104, adminPort: 9204, stateful: true,
		description: "socmgmt activity: venues, activities, registrations, attendance and the calendar feed (gRPC)"},
	{name: "handover", pkg: "./services/handover/cmd/handover", listenFlag: "grpc-addr", apiPort: 9102, adminPort: 9202, stateful: true,
		description: "socmgmt handover: enterprise-to-community handover packages and their outbox (gRPC)"},
	{name: "pension", pkg: "./services/pension/cmd/pension", listenFlag: "grpc-addr", apiPort: 9103, adminPort: 9203, stateful: true,
		description: "socmgmt pension: payments, certifications, entitlement and anomalies (gRPC)"},
	{name: "casework", pkg: "./services/casework/cmd/casework", listenFlag: "grpc-addr", apiPort: 9105, adminPort: 9205, stateful: true,
		description: "socmgmt casework: the clerks' work items, care visits, complaints and messages (gRPC)"},
}

// lookupProgram returns the program called name.
func lookupProgram(name string) (program, bool) {
	for _, p := range programs {
		if p.name == name {
			return p, true
		}
	}
	return program{}, false
}
