package lease

import (
	"context"
	"log/slog"
)

// electorHandler carries client-go's election messages to the guard's
// logger at debug level. client-go logs every failed attempt (once per
// retry tick) at info or error level; the guard reports what matters itself,
// rate-limited, so these are detail for debugging. Messages logged with
// verbosity above 2 (logr's V(3) and up, slog levels below -2) are dropped.
type electorHandler struct{ h slog.Handler }

func (e electorHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= -2 && e.h.Enabled(ctx, slog.LevelDebug)
}

func (e electorHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Level = slog.LevelDebug
	return e.h.Handle(ctx, r)
}

func (e electorHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return electorHandler{e.h.WithAttrs(attrs)}
}

func (e electorHandler) WithGroup(name string) slog.Handler {
	return electorHandler{e.h.WithGroup(name)}
}
