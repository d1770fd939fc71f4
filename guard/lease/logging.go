package lease

import (
	"context"
	"log/slog"
)

// electorHandler carries client-go's messages (the elector's and the REST
// client's) to the guard's logger at debug level. client-go logs every
// failed attempt (once per retry tick) at info or error level; the guard
// reports what matters itself, rate-limited, so these are detail for
// debugging. Messages logged with verbosity above 2 (logr's V(3) and up,
// slog levels below -2) are dropped.
//
// Handle checks the level itself: logr calls a sink's Error without asking
// Enabled first, so client-go's error messages would otherwise reach a
// handler that does not want debug records.
type electorHandler struct{ h slog.Handler }

func (e electorHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= -2 && e.h.Enabled(ctx, slog.LevelDebug)
}

func (e electorHandler) Handle(ctx context.Context, r slog.Record) error {
	if !e.Enabled(ctx, r.Level) {
		return nil
	}
	r.Level = slog.LevelDebug
	return e.h.Handle(ctx, r)
}

func (e electorHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return electorHandler{e.h.WithAttrs(attrs)}
}

func (e electorHandler) WithGroup(name string) slog.Handler {
	return electorHandler{e.h.WithGroup(name)}
}
