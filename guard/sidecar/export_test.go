package sidecar

import "time"

// SetNow replaces the wall clock g judges last_update against.
func SetNow(g *Guard, now func() time.Time) { g.now = now }

// GuardError and CheckAge expose the error mapping and the age check.
var (
	GuardError = guardError
	CheckAge   = checkAge
)
