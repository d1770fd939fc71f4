package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// Environment variables of the OpenTelemetry SDK convention that select the
// trace exporter. The exporters and the SDK read the others themselves:
// OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
// OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_TIMEOUT, OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER, OTEL_BSP_*.
const (
	envTracesExporter = "OTEL_TRACES_EXPORTER"
	envOTLPProtocol   = "OTEL_EXPORTER_OTLP_PROTOCOL"
	envTracesProtocol = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
)

// setUpTracing installs a tracer provider when OTEL_TRACES_EXPORTER asks
// for one, as the OpenTelemetry SDKs' convention has it: a comma-separated
// list of otlp (OTLP over HTTP with protobuf, to OTEL_EXPORTER_OTLP_ENDPOINT,
// default http://localhost:4318), console (one JSON document per span on
// console) and none. Unset or none exports nothing and installs nothing:
// the App's spans stay the OpenTelemetry API's no-ops. The provider is also
// the global one, so that the spans a job starts with otel.Tracer join the
// run's trace. The returned function flushes and stops the exporters; call
// it after the App has returned from Run.
func setUpTracing(ctx context.Context, getenv func(string) string, console io.Writer) (trace.TracerProvider, func(context.Context) error, error) {
	noop := func(context.Context) error { return nil }
	var opts []sdktrace.TracerProviderOption
	for _, name := range strings.Split(getenv(envTracesExporter), ",") {
		switch name = strings.TrimSpace(name); name {
		case "", "none":
		case "otlp":
			v := envTracesProtocol
			if getenv(v) == "" {
				v = envOTLPProtocol
			}
			if p := getenv(v); p != "" && p != "http/protobuf" {
				return nil, noop, fmt.Errorf("%s=%q: this program exports OTLP over http/protobuf only", v, p)
			}
			exp, err := otlptracehttp.New(ctx)
			if err != nil {
				return nil, noop, fmt.Errorf("%s=otlp: %w", envTracesExporter, err)
			}
			opts = append(opts, sdktrace.WithBatcher(exp))
		case "console":
			exp, err := stdouttrace.New(stdouttrace.WithWriter(console))
			if err != nil {
				return nil, noop, fmt.Errorf("%s=console: %w", envTracesExporter, err)
			}
			opts = append(opts, sdktrace.WithBatcher(exp))
		default:
			return nil, noop, fmt.Errorf("%s=%q: want otlp, console or none (or a comma-separated list)", envTracesExporter, name)
		}
	}
	if len(opts) == 0 {
		return nil, noop, nil
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceInstanceID(podName(getenv))))
	if err != nil {
		return nil, noop, fmt.Errorf("tracing resource: %w", err)
	}
	if res, err = resource.Merge(res, envResource(getenv)); err != nil {
		return nil, noop, fmt.Errorf("tracing resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(append(opts, sdktrace.WithResource(res))...)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return tp, tp.Shutdown, nil
}

// envResource is the service's name and attributes as OTEL_SERVICE_NAME
// and OTEL_RESOURCE_ATTRIBUTES give them (the name in that order), else
// monolith rather than the SDK's unknown_service: the default comes
// first, and what the environment says is applied after it and wins.
// getenv is asked for OTEL_SERVICE_NAME; the SDK's detector reads the
// process's environment.
func envResource(getenv func(string) string) *resource.Resource {
	opts := []resource.Option{resource.WithAttributes(semconv.ServiceName("monolith")), resource.WithFromEnv()}
	if name := getenv("OTEL_SERVICE_NAME"); name != "" {
		opts = append(opts, resource.WithAttributes(semconv.ServiceName(name)))
	}
	r, err := resource.New(context.Background(), opts...)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return resource.Empty()
	}
	return r
}

// podName is this replica's identity as leaderjob reads it.
func podName(getenv func(string) string) string {
	for _, v := range []string{"POD_NAME", "HOSTNAME"} {
		if s := getenv(v); s != "" {
			return s
		}
	}
	return "unknown"
}
