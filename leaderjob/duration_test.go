package leaderjob_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/leaderjob"
)

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		// ISO-8601, as java.time.Duration.parse reads it
		{"PT15M", 15 * time.Minute},
		{"PT1H30M", 90 * time.Minute},
		{"P2D", 48 * time.Hour},
		{"P1DT2H", 26 * time.Hour},
		{"PT0.5S", 500 * time.Millisecond},
		{"PT1.25S", 1250 * time.Millisecond},
		{"PT0.000000001S", time.Nanosecond},
		{"-PT10S", -10 * time.Second},
		{"+PT10S", 10 * time.Second},
		{"PT-5S", -5 * time.Second},
		{"PT1H-30M", 30 * time.Minute},
		{"pt15m", 15 * time.Minute},
		{"p1dt1h", 25 * time.Hour},
		{"PT0S", 0},
		{" PT15M ", 15 * time.Minute},
		// Go durations and Spring's simple style
		{"10s", 10 * time.Second},
		{"250ms", 250 * time.Millisecond},
		{"1h30m", 90 * time.Minute},
		{"1.5h", 90 * time.Minute},
		{"-3s", -3 * time.Second},
		{"2d", 48 * time.Hour},
		{"0d", 0},
		// bare numbers are milliseconds
		{"5000", 5 * time.Second},
		{"0", 0},
		{"-100", -100 * time.Millisecond},
		{" 42 ", 42 * time.Millisecond},
	} {
		got, err := leaderjob.ParseDuration(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseDurationRejects(t *testing.T) {
	for _, in := range []string{
		"", "   ",
		"P", "PT", "-P", "P1", "PT1", "P1Y", "P1M", "P1W", "PT1.5M", "PT1.5H", "P1.5D",
		"PT.5S", "PT1S2M", "PT1M1H", "PT1H1H", "P1H", "PTS", "PT1X", "P1DT",
		"banana", "10 s", "1y", "d", "2.5d", "5s10",
		"9223372036854775807", // milliseconds that overflow a Duration
		"P999999999999D",
	} {
		d, err := leaderjob.ParseDuration(in)
		if err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, d)
			continue
		}
		if !errors.Is(err, leaderjob.ErrInvalidDuration) {
			t.Errorf("ParseDuration(%q) error %v does not wrap ErrInvalidDuration", in, err)
		}
		if strings.TrimSpace(in) != "" && !strings.Contains(err.Error(), `"`+in+`"`) {
			t.Errorf("ParseDuration(%q) error %q does not quote the value", in, err)
		}
	}
	_, err := leaderjob.ParseDuration("")
	if err == nil || !strings.Contains(err.Error(), "PT15M") {
		t.Errorf("empty value: %v, want a hint listing the accepted forms", err)
	}
}

func TestParseDurationUnit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		unit time.Duration
		want time.Duration
	}{
		{"30", time.Second, 30 * time.Second},
		{"2", time.Hour, 2 * time.Hour},
		{"5", time.Millisecond, 5 * time.Millisecond},
		{"5", time.Microsecond, 5 * time.Microsecond},
		{"5", 0, 5 * time.Millisecond}, // no unit: Spring's default
		// the unit applies to bare numbers only
		{"PT1S", time.Hour, time.Second},
		{"10s", time.Hour, 10 * time.Second},
		{"1d", time.Second, 24 * time.Hour},
	} {
		got, err := leaderjob.ParseDurationUnit(tc.in, tc.unit)
		if err != nil || got != tc.want {
			t.Errorf("ParseDurationUnit(%q, %v) = %v, %v; want %v", tc.in, tc.unit, got, err, tc.want)
		}
	}
	if _, err := leaderjob.ParseDurationUnit("9223372036854775", time.Second); !errors.Is(err, leaderjob.ErrInvalidDuration) {
		t.Errorf("seconds that overflow: %v, want ErrInvalidDuration", err)
	}
}
