package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
)

// OTEL_TRACES_EXPORTER selects the exporter as the SDKs' convention has
// it: unset and none install nothing, console writes JSON, a bad value or
// an OTLP protocol this program does not link is an error naming the
// variable. (otlp itself is tested end to end, against a receiver.)
func TestTracesExporterSelection(t *testing.T) {
	defer otel.SetTracerProvider(otel.GetTracerProvider())
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, v := range []string{"", "none", " none "} {
		tp, stop, err := setUpTracing(context.Background(), env(map[string]string{envTracesExporter: v}), nil)
		if tp != nil || err != nil || stop(context.Background()) != nil {
			t.Errorf("%s=%q: provider %v, error %v; want none and no error", envTracesExporter, v, tp, err)
		}
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{envTracesExporter: "jaeger"}, `OTEL_TRACES_EXPORTER="jaeger": want otlp, console or none`},
		{map[string]string{envTracesExporter: "otlp", envOTLPProtocol: "grpc"}, `OTEL_EXPORTER_OTLP_PROTOCOL="grpc"`},
		{map[string]string{envTracesExporter: "otlp", envOTLPProtocol: "http/protobuf", envTracesProtocol: "http/json"}, `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="http/json"`},
	} {
		if _, _, err := setUpTracing(context.Background(), env(tc.env), nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one with %q", tc.env, err, tc.want)
		}
	}

	var out bytes.Buffer
	tp, stop, err := setUpTracing(context.Background(), env(map[string]string{envTracesExporter: "console", "POD_NAME": "pod-a", "OTEL_SERVICE_NAME": "billing"}), &out)
	if err != nil || tp == nil {
		t.Fatalf("console: %v, %v", tp, err)
	}
	_, span := otel.Tracer("test").Start(context.Background(), "a span")
	span.End()
	if err := stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Name     string
		Resource []struct {
			Key   string
			Value struct{ Value any }
		}
	}
	if err := json.NewDecoder(&out).Decode(&doc); err != nil {
		t.Fatalf("console output %q: %v", out.String(), err)
	}
	res := map[string]any{}
	for _, kv := range doc.Resource {
		res[kv.Key] = kv.Value.Value
	}
	if doc.Name != "a span" || res["service.name"] != "billing" || res["service.instance.id"] != "pod-a" {
		t.Errorf("console span %q with resource %v; want \"a span\", service billing, instance pod-a", doc.Name, res)
	}
}

// The service's name: OTEL_SERVICE_NAME, else service.name in
// OTEL_RESOURCE_ATTRIBUTES, else monolith.
func TestServiceName(t *testing.T) {
	for _, tc := range []struct{ name, attrs, want string }{
		{"", "", "monolith"},
		{"", "service.name=billing,team=payments", "billing"},
		{"reports", "service.name=billing", "reports"},
	} {
		t.Setenv("OTEL_SERVICE_NAME", tc.name)
		t.Setenv("OTEL_RESOURCE_ATTRIBUTES", tc.attrs)
		got := ""
		for _, kv := range envResource(os.Getenv).Attributes() {
			if kv.Key == "service.name" {
				got = kv.Value.AsString()
			}
		}
		if got != tc.want {
			t.Errorf("OTEL_SERVICE_NAME=%q OTEL_RESOURCE_ATTRIBUTES=%q: service.name %q, want %q", tc.name, tc.attrs, got, tc.want)
		}
	}
}
