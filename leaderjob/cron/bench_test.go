package cron

import (
	"testing"
	"time"
)

// BenchmarkNext measures one Next call for typical schedules and for some
// that make the search work hard.
func BenchmarkNext(b *testing.B) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name, expr string
		loc        *time.Location
	}{
		{"every10s", "*/10 * * * * *", time.UTC},
		{"hourly", "@hourly", time.UTC},
		{"workdays", "0 0 9-17 * * MON-FRI", time.UTC},
		{"daily_berlin", "0 30 2 * * *", berlin},
		{"last_friday", "0 0 18 * * FRIL", time.UTC},
		{"nearest_weekday", "0 0 0 15W * ?", time.UTC},
		{"friday_13th", "0 0 0 13 * FRI", time.UTC},
		{"feb29_monday", "0 0 0 29 2 MON", time.UTC},
		{"never_jun31", "0 0 0 31 6 *", time.UTC},
		{"never_5th_fri_ord6", "0 0 0 ? * 5#6", time.UTC},
	}
	start := time.Date(2024, time.March, 30, 22, 17, 31, 0, time.UTC)
	for _, c := range cases {
		e, err := Parse(c.expr)
		if err != nil {
			b.Fatal(err)
		}
		from := start.In(c.loc)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = e.Next(from)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("0 0/30 8-10 ? JAN-JUN MON-FRI"); err != nil {
			b.Fatal(err)
		}
	}
}
