package proxy

import (
	"bytes"
	"encoding/binary"
	"testing"

	"golang.org/x/net/http2/hpack"
)

func settingsFrame(pairs ...uint32) []byte {
	n := 6 * len(pairs) / 2
	f := []byte{byte(n >> 16), byte(n >> 8), byte(n), h2FrameSettings, 0, 0, 0, 0, 0}
	for i := 0; i < len(pairs); i += 2 {
		f = binary.BigEndian.AppendUint16(f, uint16(pairs[i]))
		f = binary.BigEndian.AppendUint32(f, pairs[i+1])
	}
	return f
}

func TestAppendSettings(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in, want []byte
	}{
		{"no repeats pass unchanged", settingsFrame(4, 100, 3, 10), settingsFrame(4, 100, 3, 10)},
		{"the last value wins", settingsFrame(4, 100, 3, 10, 4, 1), settingsFrame(4, 1, 3, 10)},
		{"an invalid value is kept", settingsFrame(4, 1<<31, 4, 1), settingsFrame(4, 1<<31)},
	} {
		if got := appendSettings(nil, tc.in); !bytes.Equal(got, tc.want) {
			t.Errorf("%s: got % x, want % x", tc.name, got, tc.want)
		}
	}
}

// A request header block with a connection-specific field gets a poison
// field appended in a CONTINUATION frame; others pass unchanged.
func TestFrameFilterHeaders(t *testing.T) {
	var enc bytes.Buffer
	e := hpack.NewEncoder(&enc)
	block := func(fields ...string) []byte {
		enc.Reset()
		for i := 0; i < len(fields); i += 2 {
			e.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
		}
		b := enc.Bytes()
		f := []byte{0, byte(len(b) >> 8), byte(len(b)), h2FrameHeaders, h2FlagEndHeaders | 0x1, 0, 0, 0, 1}
		return append(f, b...)
	}
	good := block(":method", "GET", ":path", "/", "te", "trailers")
	bad := block(":method", "GET", ":path", "/", "connection", "keep-alive")

	f := newFrameFilter(nil)
	f.prefaceDone = true
	f.in = append(append(f.in, good...), bad...)
	for f.step() {
	}
	if !bytes.Equal(f.out[:len(good)], good) {
		t.Fatalf("a valid block changed")
	}
	rest := f.out[len(good):]
	if rest[4]&h2FlagEndHeaders != 0 || !bytes.Equal(rest[9:len(bad)], bad[9:]) {
		t.Fatalf("the bad block's HEADERS frame: % x", rest[:9])
	}
	cont := rest[len(bad):]
	want := []byte{0, 0, 4, h2FrameCont, h2FlagEndHeaders, 0, 0, 0, 1, 0x00, 0x01, 'X', 0x00}
	if !bytes.Equal(cont, want) {
		t.Fatalf("poison frame % x, want % x", cont, want)
	}
}
