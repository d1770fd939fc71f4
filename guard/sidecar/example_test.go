package sidecar_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/guard/sidecar"
	"github.com/leaderjob/leaderjob/sidecarclient"
	"github.com/leaderjob/leaderjob/sidecarclient/sidecartest"
)

func ExampleNew() {
	// A leader-elector sidecar on the loopback interface that names pod-a.
	s := sidecartest.NewServer(sidecartest.Leader("pod-a"))
	defer s.Close()

	job := func(context.Context) error { fmt.Println("sending the report"); return nil }
	for _, self := range []string{"pod-a", "pod-b"} {
		g, err := sidecar.New(self, sidecar.WithURL(s.URL))
		if err != nil {
			panic(err)
		}
		out := guard.Run(context.Background(), g, job)
		if out.Outcome == guard.Skipped {
			fmt.Println(self, "skipped:", out.Reason, "-", out.Decision.Detail)
			continue
		}
		fmt.Println(self, out.Outcome)
	}
	// Output:
	// sending the report
	// pod-a ran
	// pod-b skipped: not_leader - leader is "pod-a"
}

func ExampleGuard_OnChange() {
	s := sidecartest.NewServer(sidecartest.Leader("pod-a"))
	defer s.Close()
	g, err := sidecar.New("pod-b", sidecar.WithURL(s.URL), sidecar.WithCacheWindow(0))
	if err != nil {
		panic(err)
	}
	g.OnChange(func(c guard.Change) { fmt.Printf("leader %q -> %q\n", c.Previous, c.Holder) })

	g.Check(context.Background())
	s.Set(sidecartest.Leader("pod-b"))
	d, _ := g.Check(context.Background())
	fmt.Println("leader:", d.Leader)
	// Output:
	// leader "" -> "pod-a"
	// leader "pod-a" -> "pod-b"
	// leader: true
}

func ExampleGuard_Check_errors() {
	// Something that is not a leader-elector answers at the sidecar's address.
	s := sidecartest.NewServer(http.NotFoundHandler())
	defer s.Close()
	g, err := sidecar.New("pod-a", sidecar.WithURL(s.URL))
	if err != nil {
		panic(err)
	}
	_, err = g.Check(context.Background())
	// The client's error, with its class, and the guard's reading of it.
	fmt.Println(errors.Is(err, sidecarclient.ErrBadStatus), sidecarclient.ErrorClass(err))
	fmt.Println(errors.Is(err, guard.ErrUnavailable), guard.ReasonOf(err))
	// Output:
	// true bad_status
	// true unavailable
}
