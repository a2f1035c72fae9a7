// Package e2e holds socmgmt's end-to-end tests. They build the real
// binaries, start them on free loopback ports with their own keys and data
// directory, and talk REST and gRPC to them as a client would. They are
// skipped under -short.
//
// TestConsole drives the clerks' web console in Debian's headless chromium
// (chromedp; make tools installs chromium and, with npm ci in web/console,
// axe-core) against the stack with a seeded demo city: axe-core on every
// screen, a full-page screenshot of each into $CONSOLE_SCREENSHOTS or
// bin/console-screenshots, and issue 17's scenarios through the screens.
// web/console/CONTRACT.md is the DOM contract it relies on.
package e2e
