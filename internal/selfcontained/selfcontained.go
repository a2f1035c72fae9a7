// Package selfcontained links into a program the two things it would
// otherwise read from the machine: the time-zone database (time/tzdata,
// used when the system has no zoneinfo) and Mozilla's CA roots
// (x509roots/fallback, used when the system has no roots). Every main
// imports it for its side effect, so that the programs run the same on a
// scratch container image with no files but their own as on a full
// system, and the image needs no copies of the builder's /usr/share.
//
// The system's files win where they exist: an operator who installs a
// newer zoneinfo or adds a private CA to the system roots is heard.
package selfcontained

import (
	// The activities' and the working-day calendars' zones must load on
	// any machine, with or without a system zoneinfo database.
	_ "time/tzdata"

	// Outgoing HTTPS (casework's SMS platform) must verify on a machine
	// without /etc/ssl/certs.
	_ "golang.org/x/crypto/x509roots/fallback"
)
