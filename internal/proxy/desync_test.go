package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
	"github.com/albatross-lb/albatross/internal/config"
)

// entryLog keeps what metrics read from finished entries: the fields that are
// not in the access log line.
type entryLog struct {
	mu      sync.Mutex
	entries []accesslog.Entry
}

func (l *entryLog) Log(e *accesslog.Entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, accesslog.Entry{
		Classification:       e.Classification,
		ClassificationReason: e.ClassificationReason,
		InvalidHeaders:       e.InvalidHeaders,
		ELBStatusCode:        e.ELBStatusCode,
	})
}

// TestEntryCarriesDesyncAndInvalidHeaders checks the entry fields from which
// DesyncMitigationMode_NonCompliant_Request_Count, DroppedInvalidHeaderRequestCount
// and ForwardedInvalidHeaderRequestCount are derived.
func TestEntryCarriesDesyncAndInvalidHeaders(t *testing.T) {
	target := startOKTarget(t)

	for _, drop := range []bool{false, true} {
		log := &entryLog{}
		attrs := config.LoadBalancerAttributes{IdleTimeout: 10 * time.Second, ClientKeepAlive: time.Hour,
			DesyncMitigationMode: "defensive", DropInvalidHeaderFields: drop}
		addr := serve(t, quietProxy(), testListener(attrs, log, target))
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		for _, req := range []string{
			"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
			"GET / HTTP/1.1\r\nHost: x\r\nX_Custom: 1\r\n\r\n",
			"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
		} {
			io.WriteString(c, req)
			resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d for %q", resp.StatusCode, req)
			}
		}
		c.Close()
		invalid := accesslog.InvalidHeadersForwarded
		if drop {
			invalid = accesslog.InvalidHeadersDropped
		}
		want := []accesslog.Entry{
			{ELBStatusCode: 200},
			{ELBStatusCode: 200, InvalidHeaders: invalid},
			{ELBStatusCode: 200, Classification: "Acceptable", ClassificationReason: "GetHeadZeroContentLength"},
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			log.mu.Lock()
			n := len(log.entries)
			got := append([]accesslog.Entry(nil), log.entries...)
			log.mu.Unlock()
			if n >= len(want) {
				for i := range want {
					g, w := got[i], want[i]
					if g.ELBStatusCode != w.ELBStatusCode || g.Classification != w.Classification ||
						g.ClassificationReason != w.ClassificationReason || g.InvalidHeaders != w.InvalidHeaders {
						t.Errorf("drop=%v: entry %d = %+v, want %+v", drop, i, got[i], want[i])
					}
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("drop=%v: %d entries, want %d", drop, n, len(want))
			}
			time.Sleep(10 * time.Millisecond) // polling with a deadline
		}
	}
}
