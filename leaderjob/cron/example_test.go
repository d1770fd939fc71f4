package cron_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/leaderjob/leaderjob/leaderjob/cron"
)

func ExampleParse() {
	e, err := cron.Parse("0 0 9-17 * * MON-FRI")
	if err != nil {
		panic(err)
	}
	fmt.Println(e)

	_, err = cron.Parse("0 0 25 * * *")
	fmt.Println(err)
	fmt.Println(errors.Is(err, cron.ErrInvalid))

	_, err = cron.Parse("-")
	fmt.Println(errors.Is(err, cron.ErrDisabled))
	// Output:
	// 0 0 9-17 * * MON-FRI
	// cron "0 0 25 * * *": hour field: 25 out of range 0-23
	// true
	// true
}

func ExampleExpression_Next() {
	// The last Friday of every month at 18:30.
	e, err := cron.Parse("0 30 18 * * FRIL")
	if err != nil {
		panic(err)
	}
	t := time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)
	for range 3 {
		t = e.Next(t)
		fmt.Println(t)
	}
	// Output:
	// 2025-01-31 18:30:00 +0000 UTC
	// 2025-02-28 18:30:00 +0000 UTC
	// 2025-03-28 18:30:00 +0000 UTC
}

func ExampleExpression_Next_daylightSaving() {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	e, err := cron.Parse("0 30 2 * * *")
	if err != nil {
		panic(err)
	}
	// 02:30 does not exist on 2021-03-28 and happens twice on 2021-10-31.
	fmt.Println(e.Next(time.Date(2021, time.March, 27, 12, 0, 0, 0, berlin)))
	t := time.Date(2021, time.October, 30, 12, 0, 0, 0, berlin)
	for range 3 {
		t = e.Next(t)
		fmt.Println(t)
	}
	// Output:
	// 2021-03-29 02:30:00 +0200 CEST
	// 2021-10-31 02:30:00 +0200 CEST
	// 2021-10-31 02:30:00 +0100 CET
	// 2021-11-01 02:30:00 +0100 CET
}

func ExampleExpression_Next_never() {
	e, err := cron.Parse("0 0 0 31 6 *") // June has 30 days
	if err != nil {
		panic(err)
	}
	fmt.Println(e.Next(time.Now()).IsZero())
	// Output:
	// true
}
