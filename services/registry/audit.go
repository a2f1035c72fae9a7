package registry

import (
	"github.com/socmgmt/socmgmt/internal/audit"
)

// Actor is who makes a change or a read, for history and audit.
type Actor = audit.Actor
