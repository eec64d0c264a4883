package elbv2

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Credentials maps access key ids to secret access keys: the keys the node
// accepts SigV4 signatures from.
type Credentials map[string]string

// Development credentials: used only when the admin address is loopback and no
// others are configured (the server says so at start). They are the
// placeholder keys local AWS tooling conventionally uses.
const (
	DevAccessKeyID     = "test"
	DevSecretAccessKey = "test"
)

// LoadCredentials reads a credentials file: one key per line, "ACCESS_KEY_ID
// SECRET_ACCESS_KEY" separated by white space; blank lines and lines beginning
// with # are ignored.
func LoadCredentials(path string) (Credentials, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("api credentials: %w", err)
	}
	defer f.Close()
	c := Credentials{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("api credentials %s:%d: want \"ACCESS_KEY_ID SECRET_ACCESS_KEY\", got %d fields", path, n, len(fields))
		}
		if _, dup := c[fields[0]]; dup {
			return nil, fmt.Errorf("api credentials %s:%d: access key %q is listed twice", path, n, fields[0])
		}
		c[fields[0]] = fields[1]
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("api credentials %s: %w", path, err)
	}
	if len(c) == 0 {
		return nil, fmt.Errorf("api credentials %s: no keys", path)
	}
	return c, nil
}

// maxClockSkew is how far X-Amz-Date may be from the server's clock (AWS: 15
// minutes).
const maxClockSkew = 15 * time.Minute

const sigV4Algorithm = "AWS4-HMAC-SHA256"

// verifySigV4 checks the request's AWS Signature Version 4 (Authorization
// header form) over body, and returns the access key id it was signed with.
func verifySigV4(r *http.Request, body []byte, creds Credentials, now time.Time) (string, *apiError) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		if r.URL.Query().Get("X-Amz-Algorithm") != "" {
			return "", &apiError{Status: http.StatusBadRequest, Code: codeIncompleteSignature, Message: "Query-string (presigned) signatures are not supported; sign the Authorization header"}
		}
		return "", &apiError{Status: http.StatusForbidden, Code: codeMissingAuthenticationTok, Message: "Request is missing Authentication Token"}
	}
	incomplete := func(why string) (string, *apiError) {
		return "", &apiError{Status: http.StatusBadRequest, Code: codeIncompleteSignature, Message: why}
	}
	rest, ok := strings.CutPrefix(auth, sigV4Algorithm+" ")
	if !ok {
		return incomplete("Authorization header must use " + sigV4Algorithm)
	}
	var credential, signedHeaders, signature string
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			credential = v
		case "SignedHeaders":
			signedHeaders = v
		case "Signature":
			signature = v
		}
	}
	if credential == "" || signedHeaders == "" || signature == "" {
		return incomplete("Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters. Authorization=" + auth)
	}
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return incomplete("Credential must have the form ACCESS_KEY_ID/DATE/REGION/SERVICE/aws4_request, got '" + credential + "'")
	}
	keyID, date, region, service := scope[0], scope[1], scope[2], scope[3]
	secret, known := creds[keyID]
	if !known {
		return "", &apiError{Status: http.StatusForbidden, Code: codeInvalidClientTokenID, Message: "The security token included in the request is invalid."}
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return incomplete("X-Amz-Date must be a timestamp such as 20261122T191550Z, got '" + amzDate + "'")
	}
	if !strings.HasPrefix(amzDate, date) {
		return "", &apiError{Status: http.StatusForbidden, Code: codeSignatureDoesNotMatch, Message: "Credential should be scoped to a valid date: '" + date + "' does not match X-Amz-Date " + amzDate}
	}
	const stamp = "20060102T150405Z"
	switch {
	case t.Before(now.Add(-maxClockSkew)):
		return "", &apiError{Status: http.StatusForbidden, Code: codeSignatureDoesNotMatch,
			Message: fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 15 min.)", amzDate, now.Add(-maxClockSkew).UTC().Format(stamp), now.UTC().Format(stamp))}
	case t.After(now.Add(maxClockSkew)):
		return "", &apiError{Status: http.StatusForbidden, Code: codeSignatureDoesNotMatch,
			Message: fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 15 min.)", amzDate, now.Add(maxClockSkew).UTC().Format(stamp), now.UTC().Format(stamp))}
	}
	headers := strings.Split(signedHeaders, ";")
	if !slices.Contains(headers, "host") {
		return incomplete("SignedHeaders must include host")
	}

	var canon strings.Builder
	canon.WriteString(r.Method + "\n")
	canon.WriteString(canonicalURI(r.URL.EscapedPath()) + "\n")
	canon.WriteString(canonicalQuery(r.URL.RawQuery) + "\n")
	for _, h := range headers {
		canon.WriteString(h + ":" + canonicalHeaderValue(r, h) + "\n")
	}
	canon.WriteString("\n" + signedHeaders + "\n")
	sum := sha256.Sum256(body)
	canon.WriteString(hex.EncodeToString(sum[:]))

	creq := sha256.Sum256([]byte(canon.String()))
	toSign := sigV4Algorithm + "\n" + amzDate + "\n" + date + "/" + region + "/" + service + "/aws4_request\n" + hex.EncodeToString(creq[:])
	key := hmacSHA256([]byte("AWS4"+secret), date)
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, service)
	key = hmacSHA256(key, "aws4_request")
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if !hmac.Equal([]byte(want), []byte(signature)) {
		return "", &apiError{Status: http.StatusForbidden, Code: codeSignatureDoesNotMatch,
			Message: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
	}
	return keyID, nil
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// canonicalURI is the path, each segment URI-encoded once (as the client
// signs it: the escaped path as sent).
func canonicalURI(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// canonicalQuery sorts the query parameters by name then value, each
// URI-encoded with %20 for spaces.
func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return raw
	}
	var pairs []string
	for k, vs := range vals {
		for _, v := range vs {
			pairs = append(pairs, awsEscape(k)+"="+awsEscape(v))
		}
	}
	slices.Sort(pairs)
	return strings.Join(pairs, "&")
}

func awsEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// canonicalHeaderValue returns a signed header's value as SigV4 canonicalises
// it: values of repeated headers joined with commas, spaces trimmed and runs of
// spaces collapsed. Go's server keeps Host out of the header map.
func canonicalHeaderValue(r *http.Request, name string) string {
	var vals []string
	switch name {
	case "host":
		vals = []string{r.Host}
	case "content-length":
		vals = r.Header.Values("Content-Length")
		if len(vals) == 0 {
			vals = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	default:
		vals = r.Header.Values(name)
	}
	for i, v := range vals {
		vals[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(vals, ",")
}
