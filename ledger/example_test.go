package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/leaderjob/leaderjob/ledger"
)

func ExampleNewLedger() {
	ctx := context.Background()
	l := ledger.NewLedger(ledger.NewMemory())
	at := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

	// The leader of term 4 of the Lease with UID "lease-uid" claims the
	// 09:00 fire of "report" before running it.
	claim := ledger.Claim{
		Job:     "report",
		At:      at,
		Key:     "report@2026-11-30T09:00:00Z",
		Epoch:   ledger.Epoch{Scope: "lease-uid", N: 4},
		ClaimID: "pod-a/term-1",
		Holder:  "pod-a",
	}
	res, err := l.Claim(ctx, []ledger.Claim{claim})
	if err != nil {
		panic(err)
	}
	fmt.Println("claimed:", res[0].Err == nil, "first write:", res[0].ScopeReset)

	// It runs the job, then records how it ended.
	err = l.Complete(ctx, ledger.Completion{
		Job: "report", At: at, ClaimID: claim.ClaimID, Holder: "pod-a",
		Outcome: "ran", Duration: 2 * time.Second, Ended: at.Add(2 * time.Second),
	})
	fmt.Println("completed:", err == nil)

	// A deposed leader (term 3) may not claim the next fire.
	old := claim
	old.Epoch.N, old.ClaimID, old.At = 3, "pod-b/term-1", at.Add(time.Hour)
	res, _ = l.Claim(ctx, []ledger.Claim{old})
	fmt.Println("deposed:", errors.Is(res[0].Err, ledger.ErrFenced))

	// The fire already run is not run again, even by a newer term.
	again := claim
	again.Epoch.N, again.ClaimID = 5, "pod-b/term-2"
	res, _ = l.Claim(ctx, []ledger.Claim{again})
	fmt.Println("handled:", errors.Is(res[0].Err, ledger.ErrHandled))

	s, _ := l.Snapshot(ctx)
	fmt.Println("last success:", s.Jobs["report"].Success.At.Format(time.Kitchen))
	// Output:
	// claimed: true first write: true
	// completed: true
	// deposed: true
	// handled: true
	// last success: 9:00AM
}
