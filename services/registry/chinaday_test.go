package registry

import (
	"testing"
	"time"

	"github.com/socmgmt/socmgmt/internal/fault"
)

// TestDateOfDeathIsChinasDay: at 01:00 on 8 December in China (17:00 UTC
// on the 7th) a death on the 8th is today, not in the future; the 9th
// is.
func TestDateOfDeathIsChinasDay(t *testing.T) {
	t.Parallel()
	late := time.Date(2026, 12, 7, 17, 0, 0, 0, time.UTC)
	s := &Server{now: func() time.Time { return late }}
	var today, tomorrow fault.Violations
	s.checkDateOfDeath(&today, "2026-12-08")
	if err := today.Err(); err != nil {
		t.Errorf("a death today in China refused: %v", err)
	}
	s.checkDateOfDeath(&tomorrow, "2026-12-09")
	if tomorrow.Err() == nil {
		t.Error("a death tomorrow in China accepted")
	}
}
