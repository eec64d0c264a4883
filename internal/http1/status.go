package http1

// StatusText returns the reason phrase the load balancer writes for code.
//
// ALB's own responses carry nginx's phrases (spec §2.4: "Service Temporarily
// Unavailable", "Gateway Time-out"), so codes in nginx's status-line table get
// nginx's wording, including its older spellings (302 "Moved Temporarily", 405
// "Not Allowed", 408 "Request Time-out", 414 "Request-URI Too Large"). Other
// registered codes get the IANA phrase as Go's net/http spells it. Codes neither
// knows, including ALB's own 460, 463, 464 and 561, get "": nginx writes such a
// status line as "HTTP/1.1 463 " with an empty reason, and ALB never sends 460
// at all.
func StatusText(code int) string {
	if s := nginxStatusText(code); s != "" {
		return s
	}
	return ianaStatusText(code)
}

// nginxStatusText is nginx's status-line table (ngx_http_status_lines).
func nginxStatusText(code int) string {
	switch code {
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 202:
		return "Accepted"
	case 204:
		return "No Content"
	case 206:
		return "Partial Content"
	case 301:
		return "Moved Permanently"
	case 302:
		return "Moved Temporarily"
	case 303:
		return "See Other"
	case 304:
		return "Not Modified"
	case 307:
		return "Temporary Redirect"
	case 308:
		return "Permanent Redirect"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 402:
		return "Payment Required"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Not Allowed"
	case 406:
		return "Not Acceptable"
	case 408:
		return "Request Time-out"
	case 409:
		return "Conflict"
	case 410:
		return "Gone"
	case 411:
		return "Length Required"
	case 412:
		return "Precondition Failed"
	case 413:
		return "Request Entity Too Large"
	case 414:
		return "Request-URI Too Large"
	case 415:
		return "Unsupported Media Type"
	case 416:
		return "Requested Range Not Satisfiable"
	case 421:
		return "Misdirected Request"
	case 429:
		return "Too Many Requests"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Temporarily Unavailable"
	case 504:
		return "Gateway Time-out"
	case 505:
		return "HTTP Version Not Supported"
	case 507:
		return "Insufficient Storage"
	}
	return ""
}

// ianaStatusText covers the registered codes nginx's table leaves out, with
// net/http's wording (checked against http.StatusText by the tests).
func ianaStatusText(code int) string {
	switch code {
	case 100:
		return "Continue"
	case 101:
		return "Switching Protocols"
	case 102:
		return "Processing"
	case 103:
		return "Early Hints"
	case 203:
		return "Non-Authoritative Information"
	case 205:
		return "Reset Content"
	case 207:
		return "Multi-Status"
	case 208:
		return "Already Reported"
	case 226:
		return "IM Used"
	case 300:
		return "Multiple Choices"
	case 305:
		return "Use Proxy"
	case 407:
		return "Proxy Authentication Required"
	case 417:
		return "Expectation Failed"
	case 418:
		return "I'm a teapot"
	case 422:
		return "Unprocessable Entity"
	case 423:
		return "Locked"
	case 424:
		return "Failed Dependency"
	case 425:
		return "Too Early"
	case 426:
		return "Upgrade Required"
	case 428:
		return "Precondition Required"
	case 431:
		return "Request Header Fields Too Large"
	case 451:
		return "Unavailable For Legal Reasons"
	case 506:
		return "Variant Also Negotiates"
	case 508:
		return "Loop Detected"
	case 510:
		return "Not Extended"
	case 511:
		return "Network Authentication Required"
	}
	return ""
}
