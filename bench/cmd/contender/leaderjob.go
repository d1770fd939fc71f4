package main

import (
	"context"
	"flag"

	"github.com/leaderjob/leaderjob/kube"
	"github.com/leaderjob/leaderjob/leaderjob"
)

// runLeaderjob is leaderjob as its README shows it: kube.Guards() lets the
// environment pick the guard (LEADERJOB_GUARD=lease or sidecar), and every
// other setting comes from the environment contract too (timings, catch-up,
// the HTTP endpoints with /readyz, JSON logs). Run handles SIGTERM: it
// drains the running job and releases leadership.
func runLeaderjob(args []string) error {
	fs := flag.NewFlagSet("leaderjob", flag.ContinueOnError)
	d := workFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	app, err := leaderjob.New("bench", kube.Guards())
	if err != nil {
		return err
	}
	err = app.Schedule(Job, leaderjob.Cron(Spec).InZone("UTC"), func(ctx context.Context) error {
		info, _ := leaderjob.RunInfoFrom(ctx)
		return work(ctx, *d, info.ScheduledAt)
	})
	if err != nil {
		return err
	}
	return app.Run(context.Background())
}
