package h2

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// FuzzConn feeds a connection arbitrary frames after the client preface,
// over a loopback TCP connection, to handlers that read their bodies and
// answer. Whatever arrives, the server must not panic, and once the client
// has closed its side the connection must end (no goroutine left waiting).
func FuzzConn(f *testing.F) {
	var seed bytes.Buffer
	fr := http2.NewFramer(&seed, nil)
	fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1})
	block := encodeRequest("POST", "/p?q", "content-length", "3")
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndHeaders: true})
	fr.WriteData(1, true, []byte("abc"))
	fr.WriteWindowUpdate(1, 100)
	fr.WritePing(false, [8]byte{1})
	fr.WriteRSTStream(1, http2.ErrCodeCancel)
	f.Add(seed.Bytes())
	var split bytes.Buffer
	fr = http2.NewFramer(&split, nil)
	fr.WriteSettings()
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: block[:4], EndStream: true})
	fr.WriteContinuation(3, true, block[4:])
	fr.WriteGoAway(0, http2.ErrCodeNo, nil)
	f.Add(split.Bytes())

	ln := listenLoopback(f)
	srv := &Server{MaxConcurrentStreams: 4, IdleTimeout: time.Minute, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Path", r.URL.Path)
		w.Write([]byte("answer"))
	})}
	f.Fuzz(func(t *testing.T, frames []byte) {
		client, hc := plainConn(t, ln, srv)
		served := serveInBackground(hc)
		go io.Copy(io.Discard, client) // the client reads whatever comes back
		client.Write([]byte(http2.ClientPreface))
		client.Write(frames)
		client.(*net.TCPConn).CloseWrite()
		select {
		case <-served:
		case <-time.After(10 * time.Second):
			t.Fatal("connection still served 10 s after the client closed its side")
		}
	})
}
