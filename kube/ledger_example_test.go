package kube_test

import (
	"context"
	"fmt"

	"k8s.io/client-go/rest"

	"github.com/leaderjob/leaderjob/kube"
)

// The ledger of the app "billing" lives in the ConfigMap
// billing-leaderjob-ledger of the app's namespace. Started, the backend
// follows it with a watch, so standbys read it without requests; Changes
// says when to refresh a status view.
func ExampleNewConfigMapBackend() {
	cfg := &rest.Config{Host: "https://127.0.0.1:6443"} // rest.InClusterConfig() in a Pod
	b, err := kube.NewConfigMapBackend(cfg, "shop", "billing")
	if err != nil {
		panic(err)
	}
	fmt.Println(b.Name(), b.Requests())

	refresh := func(ctx context.Context) {
		_ = b.Start(ctx)
		for {
			select {
			case <-ctx.Done():
				return
			case <-b.Changes():
				state, _, err := b.Load(ctx) // from the watched copy
				_, _ = state, err
			}
		}
	}
	_ = refresh
	// Output: shop/billing-leaderjob-ledger 0
}
