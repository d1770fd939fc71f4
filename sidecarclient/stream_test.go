package sidecarclient_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/sidecarclient"
	"github.com/leaderjob/leaderjob/sidecarclient/sidecartest"
)

func TestWatchWithoutStream(t *testing.T) {
	s := sidecartest.NewServer(sidecartest.Leader("pod-a"))
	defer s.Close()
	c, _ := sidecarclient.New(s.URL)
	calls := 0
	err := c.Watch(context.Background(), func(sidecarclient.Leader, error) { calls++ })
	if !errors.Is(err, sidecarclient.ErrNoStream) || calls != 0 {
		t.Errorf("Watch on a plain sidecar: %v, %d calls", err, calls)
	}
}

func TestWatchEvents(t *testing.T) {
	s := sidecartest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != sidecarclient.StreamPath {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, ": hello\n\nevent: leader\nid: 1\ndata: {\"name\":\"pod-a\",\"epoch\":1}\n\n")
		fmt.Fprint(w, "event: leader\ndata: {\"name\":\"\",\"reason\":\"stale\"}\n\n")
		fmt.Fprint(w, "data: {\"name\":\"pod-b\",\n")
		fmt.Fprint(w, "data:  \"epoch\":2}\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer s.Close()
	c, _ := sidecarclient.New(s.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var got []string
	err := c.Watch(ctx, func(l sidecarclient.Leader, err error) {
		got = append(got, fmt.Sprintf("%s/%d/%s/%v", l.Name, l.Epoch, l.Reason, errors.Is(err, sidecarclient.ErrLeaderUnknown)))
		if len(got) == 3 {
			cancel()
		}
	})
	want := []string{"pod-a/1//false", "/0/stale/true", "pod-b/2//false"}
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Watch: %v, events %q, want %q", err, got, want)
	}
}
