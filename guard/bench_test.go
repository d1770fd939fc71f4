package guard_test

import (
	"context"
	"testing"

	"github.com/leaderjob/leaderjob/guard"
)

var sink int

func work(context.Context) error { sink++; return nil }

// BenchmarkWrappedRun compares a guarded run with a direct call of the same
// function: the difference is the price of the guard middleware per run.
func BenchmarkWrappedRun(b *testing.B) {
	ctx := context.Background()
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = work(ctx)
		}
	})
	b.Run("always", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if o := guard.Run(ctx, guard.Always, work); o.Outcome != guard.Ran {
				b.Fatal(o.Err)
			}
		}
	})
	b.Run("wrap", func(b *testing.B) {
		fn := guard.Wrap(guard.Always, work)
		b.ReportAllocs()
		for b.Loop() {
			if err := fn(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	lost := make(chan struct{})
	term := guard.CheckFunc(func(context.Context) (guard.Decision, error) {
		return guard.Decision{Leader: true, Holder: "pod-a", Epoch: 1, HasEpoch: true, Lost: lost}, nil
	})
	b.Run("with-lost", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if o := guard.Run(ctx, term, work); o.Outcome != guard.Ran {
				b.Fatal(o.Err)
			}
		}
	})
	b.Run("skipped", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if o := guard.Run(ctx, guard.Never, work); o.Outcome != guard.Skipped {
				b.Fatal(o.Outcome)
			}
		}
	})
}
