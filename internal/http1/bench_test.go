package http1

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// browserGET is what a current desktop browser sends for a page: 14 headers,
// about 800 bytes.
const browserGET = "GET /products/list?page=2&sort=price HTTP/1.1\r\n" +
	"Host: shop.example.com\r\n" +
	"Connection: keep-alive\r\n" +
	"Cache-Control: max-age=0\r\n" +
	"sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n" +
	"sec-ch-ua-mobile: ?0\r\n" +
	"sec-ch-ua-platform: \"Linux\"\r\n" +
	"Upgrade-Insecure-Requests: 1\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8\r\n" +
	"Sec-Fetch-Site: same-origin\r\n" +
	"Sec-Fetch-Mode: navigate\r\n" +
	"Referer: https://shop.example.com/products/list?page=1&sort=price\r\n" +
	"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Accept-Language: en-GB,en;q=0.9,fr;q=0.8\r\n" +
	"\r\n"

// targetResponse is a typical dynamic-page response from a target: 12 headers.
const targetResponse = "HTTP/1.1 200 OK\r\n" +
	"Server: nginx/1.25.4\r\n" +
	"Date: Sun, 22 Nov 2026 10:15:42 GMT\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n" +
	"Content-Length: 48213\r\n" +
	"Connection: keep-alive\r\n" +
	"Keep-Alive: timeout=75\r\n" +
	"Vary: Accept-Encoding\r\n" +
	"Cache-Control: private, no-cache, no-store, must-revalidate\r\n" +
	"Set-Cookie: session=4f9c2a7e1b3d; Path=/; HttpOnly; Secure; SameSite=Lax\r\n" +
	"X-Request-Id: 7d1e6b52-9a0c-4c3f-8e21-5b8d2f4a6c90\r\n" +
	"Strict-Transport-Security: max-age=31536000; includeSubDomains\r\n" +
	"X-Content-Type-Options: nosniff\r\n" +
	"\r\n"

// chunkedBody is 16 chunks of 1 KiB with extensions on some, and a trailer.
var chunkedBody = func() string {
	var b strings.Builder
	data := strings.Repeat("x", 1024)
	for i := range 16 {
		if i%4 == 0 {
			b.WriteString("400;name=value\r\n")
		} else {
			b.WriteString("400\r\n")
		}
		b.WriteString(data)
		b.WriteString("\r\n")
	}
	b.WriteString("0\r\nChecksum: abc123\r\n\r\n")
	return b.String()
}()

func BenchmarkParseRequest(b *testing.B) {
	buf := []byte(browserGET)
	var req Request
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if err := ParseRequest(buf, &req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNetHTTPReadRequest is the same head through net/http, for scale.
func BenchmarkNetHTTPReadRequest(b *testing.B) {
	buf := []byte(browserGET)
	r := bytes.NewReader(buf)
	br := bufio.NewReader(r)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		r.Reset(buf)
		br.Reset(r)
		if _, err := http.ReadRequest(br); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseResponse(b *testing.B) {
	buf := []byte(targetResponse)
	method := []byte("GET")
	var resp Response
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if err := ParseResponse(buf, &resp, method); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChunkedScanner(b *testing.B) {
	buf := []byte(chunkedBody)
	var s ChunkedScanner
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		s.Reset()
		// Feed it as a socket would: 4 KiB reads.
		for p := buf; len(p) > 0; {
			k := min(len(p), 4096)
			n, done, err := s.Scan(p[:k])
			if err != nil {
				b.Fatal(err)
			}
			p = p[n:]
			if done {
				if len(p) != 0 {
					b.Fatal("done early")
				}
				break
			}
		}
	}
}
