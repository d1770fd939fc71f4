package sidecarclient_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/leaderjob/leaderjob/sidecarclient"
	"github.com/leaderjob/leaderjob/sidecarclient/sidecartest"
)

func ExampleClient_Leader() {
	// A sidecar that sends last_update, on the loopback interface.
	s := sidecartest.NewServer(sidecartest.Respond(http.StatusOK, "application/json",
		[]byte(`{"name":"pod-a","last_update":"2026-01-02T03:04:05Z"}`)))
	defer s.Close()

	c, err := sidecarclient.New(s.URL)
	if err != nil {
		panic(err)
	}
	defer c.CloseIdleConnections()
	l, err := c.Leader(context.Background())
	fmt.Println(l.Name, l.LastUpdate, err)
	// Output: pod-a 2026-01-02 03:04:05 +0000 UTC <nil>
}

func ExampleErrorClass() {
	// Something that is not a leader-elector answers at the sidecar's address.
	s := sidecartest.NewServer(http.NotFoundHandler())
	defer s.Close()

	var classes []string
	c, err := sidecarclient.New(s.URL, sidecarclient.WithObserver(func(r sidecarclient.Result) {
		classes = append(classes, r.Class) // a metric label
	}))
	if err != nil {
		panic(err)
	}
	defer c.CloseIdleConnections()
	_, err = c.Leader(context.Background())

	var se *sidecarclient.StatusError
	fmt.Println(sidecarclient.ErrorClass(err), classes)
	fmt.Println(errors.As(err, &se), se.Code)
	fmt.Println(errors.Is(err, sidecarclient.ErrBadStatus), errors.Is(err, sidecarclient.ErrMalformed))
	// Output:
	// bad_status [bad_status]
	// true 404
	// true false
}
