package tracing

import (
	"context"
	"testing"
)

type invoices struct{}

func (*invoices) Send(context.Context) error { return nil }

func send(context.Context) error { return nil }

// code.function.name is the function's package path and name; a method
// value's has no "-fm"; an adapter's is left out, and so is a nil one.
func TestFunctionName(t *testing.T) {
	closure := func(context.Context) error { return nil }
	var nilFn func(context.Context) error
	for _, tc := range []struct {
		fn   any
		skip string
		want string
	}{
		{send, "", "github.com/leaderjob/leaderjob/leaderjob/internal/tracing.send"},
		{(&invoices{}).Send, "", "github.com/leaderjob/leaderjob/leaderjob/internal/tracing.(*invoices).Send"},
		{closure, "", "github.com/leaderjob/leaderjob/leaderjob/internal/tracing.TestFunctionName.func1"},
		{send, "github.com/leaderjob/leaderjob/leaderjob/internal/tracing.", ""},
		{nilFn, "", ""},
		{42, "", ""},
	} {
		if got := FunctionName(tc.fn, tc.skip); got != tc.want {
			t.Errorf("FunctionName(%T, %q) = %q, want %q", tc.fn, tc.skip, got, tc.want)
		}
	}
}
