package accesslog_test

import (
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
)

func ExampleAppendLine() {
	e := accesslog.Entry{
		Type:                   "http",
		Time:                   time.Date(2025, 11, 3, 14, 26, 2, 121905000, time.UTC),
		ELB:                    "app/my-alb/50dc6c495c0c9188",
		Client:                 netip.MustParseAddrPort("[2001:db8::1]:40022"),
		RequestProcessingTime:  accesslog.NotMeasured,
		TargetProcessingTime:   accesslog.NotMeasured,
		ResponseProcessingTime: accesslog.NotMeasured,
		ELBStatusCode:          400,
		ReceivedBytes:          17,
		SentBytes:              272,
		MatchedRulePriority:    accesslog.PriorityNone,
		RequestCreationTime:    time.Date(2025, 11, 3, 14, 26, 2, 118123000, time.UTC),
	}
	os.Stdout.Write(accesslog.AppendLine(nil, &e))
	// Output:
	// http 2025-11-03T14:26:02.121905Z app/my-alb/50dc6c495c0c9188 2001:db8::1:40022 - -1 -1 -1 400 - 17 272 "- - -" "-" - - - "-" "-" "-" - 2025-11-03T14:26:02.118000Z "-" "-" "-" "-" "-" "-" "-" - "-" "-" "-"
}

func ExampleParseLine() {
	line := []byte(`h2 2025-11-03T14:27:50.432610Z app/my-alb/50dc6c495c0c9188 2001:db8:4006:812::200e:51844 10.0.2.61:8080 -1 -1 -1 504 - 57 202 "GET https://api.example.com:443/v1/items HTTP/2.0" "Mozilla/5.0 (X11; Linux x86_64)" TLS_AES_128_GCM_SHA256 TLSv1.3 arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api-tg/73e2d6bc24d8a067 "Root=1-6908bbdc-0f1e2d3c4b5a69788796a5b4" "api.example.com" "session-reused" 10 2025-11-03T14:27:40.431000Z "forward" "-" "-" "10.0.2.61:8080" "-" "-" "-" TID_c0ffee00deadbeef0123456789abcdef "-" "-" "-" 198.51.100.10`)
	var e accesslog.Entry
	if err := accesslog.ParseLine(line, &e); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(e.Fields, e.Client, e.ELBStatusCode, e.TargetStatusCode, e.Time.Sub(e.RequestCreationTime))

	line[len("h2 2025-11-03T14:27:50.432610Z app/my-alb/50dc6c495c0c9188 2001:db8:4006:812::200e:51844 10.0.2.61:8080 -1 -1 -1 ")] = 'x'
	fmt.Println(accesslog.ParseLine(line, &e))
	// Output:
	// 34 [2001:db8:4006:812::200e]:51844 504 0 10.00161s
	// field 9 elb_status_code: "x04" is not a status code
}
