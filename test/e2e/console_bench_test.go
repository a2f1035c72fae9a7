package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BenchmarkConsoleFirstScreen reports the console's first screen with a
// cold cache, as TestConsole's "first screen" measures it against the real
// stack with the seeded city: ms from the navigation's start to a usable
// sign-in form, ms from the click on 登录 to the work screen with its
// data, and the JavaScript shipped in KB (transferred, as served). It runs that test in a child of the test binary, since the
// stack's harness is the tests'; -benchtime=1x is enough (make bench).
func BenchmarkConsoleFirstScreen(b *testing.B) {
	if testing.Short() {
		b.Skip("end-to-end: skipped under -short")
	}
	var m firstScreenTiming
	for b.Loop() {
		out := filepath.Join(b.TempDir(), "timing.json")
		cmd := exec.Command(os.Args[0], "-test.run", "^TestConsole$/^first_screen$", "-test.count", "1") //nolint:gosec // G702: this test binary, fixed arguments
		cmd.Env = append(os.Environ(), "CONSOLE_TIMING="+out)
		if log, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("TestConsole: %v\n%s", err, log)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			b.Fatalf("no timing written: %v", err)
		}
		if err := json.Unmarshal(data, &m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(m.SignInMS, "signin-ms")
	b.ReportMetric(m.WorkMS, "work-ms")
	b.ReportMetric(m.JSBytes/1024, "js-KB")
	b.ReportMetric(0, "ns/op")
}
