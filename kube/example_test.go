package kube_test

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/leaderjob/leaderjob/kube"
	"github.com/leaderjob/leaderjob/leaderjob"
)

// With kube.Guards, LEADERJOB_GUARD=lease builds the Lease guard (here from
// a kubeconfig that names no cluster, so New says what is missing); without
// it, New refuses lease and names the option.
func ExampleGuards() {
	env := map[string]string{"LEADERJOB_GUARD": "lease", "KUBECONFIG": "/nonexistent/kubeconfig", "POD_NAME": "pod-a"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	quiet := leaderjob.WithLogger(slog.New(slog.DiscardHandler))

	_, err := leaderjob.New("billing", leaderjob.WithEnv(lookup), quiet)
	fmt.Println(errors.Is(err, leaderjob.ErrConfig), "without kube.Guards")

	_, err = leaderjob.New("billing", kube.Guards(), leaderjob.WithEnv(lookup), quiet)
	fmt.Println(errors.Is(err, leaderjob.ErrConfig), "with kube.Guards, no usable kubeconfig")

	env["LEADERJOB_GUARD"] = "always"
	app, err := leaderjob.New("billing", kube.Guards(), leaderjob.WithEnv(lookup), quiet, leaderjob.WithHTTPAddr(""))
	fmt.Println(app.Identity(), err)
	// Output:
	// true without kube.Guards
	// true with kube.Guards, no usable kubeconfig
	// pod-a <nil>
}
