package sidecar

import "time"

// SetNow replaces the wall clock g judges last_update against.
func SetNow(g *Guard, now func() time.Time) { g.now = now }
