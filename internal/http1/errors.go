package http1

// The parsers return errors from fixed tables rather than building them, so that
// even a stream of malformed input costs no allocation. Callers must treat the
// returned *Error as read-only.

// errCode names one way a head can be malformed.
type errCode uint8

const (
	errNUL errCode = iota
	errBareCR
	errStartLineTooLong
	errHeaderLineTooLong
	errHeadTooLarge
	errBadMethod
	errMissingTarget
	errBadVersion
	errUnsupportedVersion
	errBadStatusLine
	errBadStatusCode
	errEmptyHeaderName
	errBadHeaderName
	errSpaceBeforeColon
	errMissingColon
	errLeadingFold
	errBadContentLength
	errConflictingContentLength
	errChunkedTwice
	errUnsupportedTransferEncoding
	numErrCodes
)

// errReasons are the Error.Reason texts, shared by requests and responses.
var errReasons = [numErrCodes]string{
	errNUL:                         "NUL byte in head",
	errBareCR:                      "CR not followed by LF",
	errStartLineTooLong:            "request line too long",
	errHeaderLineTooLong:           "header line too long",
	errHeadTooLarge:                "head too large",
	errBadMethod:                   "invalid method",
	errMissingTarget:               "missing request target",
	errBadVersion:                  "malformed HTTP version",
	errUnsupportedVersion:          "unsupported HTTP version",
	errBadStatusLine:               "malformed status line",
	errBadStatusCode:               "invalid status code",
	errEmptyHeaderName:             "empty header name",
	errBadHeaderName:               "invalid character in header name",
	errSpaceBeforeColon:            "whitespace in header name or before colon",
	errMissingColon:                "header line without colon",
	errLeadingFold:                 "continuation line before the first header",
	errBadContentLength:            "invalid Content-Length",
	errConflictingContentLength:    "conflicting Content-Length headers",
	errChunkedTwice:                "chunked applied more than once",
	errUnsupportedTransferEncoding: "unsupported Transfer-Encoding",
}

// requestErrors answer a malformed request: 400, except an unsupported transfer
// coding (501, spec §2.1) and a well-formed version other than HTTP/1.x (505).
var requestErrors = func() (t [numErrCodes]Error) {
	for c := range t {
		t[c] = Error{Status: 400, Reason: errReasons[c]}
	}
	t[errUnsupportedVersion].Status = 505
	t[errUnsupportedTransferEncoding].Status = 501
	// interpret finds these once the whole head is parsed.
	for _, c := range []errCode{errBadContentLength, errConflictingContentLength, errChunkedTwice, errUnsupportedTransferEncoding} {
		t[c].Complete = true
	}
	return t
}()

// responseErrors answer a malformed response from a target: always 502.
var responseErrors = func() (t [numErrCodes]Error) {
	for c := range t {
		t[c] = Error{Status: 502, Reason: errReasons[c]}
	}
	t[errStartLineTooLong].Reason = "status line too long"
	return t
}()

// Errors of the chunked body scanner. They carry 400, the answer to a malformed
// request body; on the response side the proxy answers 502.
var (
	errChunkSize       = &Error{Status: 400, Reason: "invalid chunk size"}
	errChunkSizeLong   = &Error{Status: 400, Reason: "chunk size has more than 16 hex digits"}
	errChunkExtension  = &Error{Status: 400, Reason: "invalid chunk extension"}
	errChunkLineLong   = &Error{Status: 400, Reason: "chunk size line too long"}
	errChunkBareCR     = &Error{Status: 400, Reason: "CR not followed by LF in chunked body"}
	errChunkBareLF     = &Error{Status: 400, Reason: "LF without CR in chunked body"}
	errChunkDataEnd    = &Error{Status: 400, Reason: "chunk data not followed by CRLF"}
	errTrailerName     = &Error{Status: 400, Reason: "invalid trailer field name"}
	errTrailerColon    = &Error{Status: 400, Reason: "trailer line without colon"}
	errTrailerSpace    = &Error{Status: 400, Reason: "whitespace before colon in trailer"}
	errTrailerFold     = &Error{Status: 400, Reason: "continuation line before the first trailer"}
	errTrailerNUL      = &Error{Status: 400, Reason: "NUL byte in trailer"}
	errTrailerLineLong = &Error{Status: 400, Reason: "trailer line too long"}
	errTrailerTooLarge = &Error{Status: 400, Reason: "trailer section too large"}
)
