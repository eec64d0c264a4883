package main

import (
	"context"
	"fmt"
	"github.com/albatross-lb/albatross/internal/accesslog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/albatross-lb/albatross/internal/analyze"
	"github.com/albatross-lb/albatross/internal/logship"
)

// s3Window is the time an s3:// input covers when --since is not given.
const s3Window = time.Hour

// s3Location is s3://BUCKET[/PREFIX].
type s3Location struct{ bucket, prefix string }

// parseS3URL parses an s3:// input.
func parseS3URL(u string) (s3Location, error) {
	rest, ok := strings.CutPrefix(u, "s3://")
	if !ok {
		return s3Location{}, fmt.Errorf("%q is not s3://BUCKET[/PREFIX]", u)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if bucket == "" {
		return s3Location{}, fmt.Errorf("%q names no bucket", u)
	}
	prefix = strings.Trim(prefix, "/")
	if strings.Contains(prefix, "AWSLogs") {
		return s3Location{}, fmt.Errorf("%q: give the prefix before AWSLogs/ (ALB's prefix), not a path inside it", u)
	}
	return s3Location{bucket: bucket, prefix: prefix}, nil
}

// logInterval is how long one of ALB's log files covers.
const logInterval = 5 * time.Minute

// fetchS3 downloads into dir the objects of loc that hold the log kind
// (accesslog.KindAccess, KindConnection) and whose intervals overlap
// [since, until), walking ALB's layout: the accounts and regions under
// PREFIX/AWSLogs/, then one listing per delivery day. So a one-hour window
// lists and reads one hour of objects, not the bucket. It returns how many
// objects it read.
func fetchS3(ctx context.Context, c *logship.S3, loc s3Location, since, until time.Time, kind string, dir string) (int, error) {
	base := "AWSLogs/"
	if loc.prefix != "" {
		base = loc.prefix + "/AWSLogs/"
	}
	accounts, err := c.Prefixes(ctx, loc.bucket, base)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, acc := range accounts {
		regions, err := c.Prefixes(ctx, loc.bucket, acc+"elasticloadbalancing/")
		if err != nil {
			return n, err
		}
		for _, region := range regions {
			// Files are filed under the day their interval ends (or, on
			// ALB, is delivered): from since's day to the day after until's.
			for day := since.UTC().Truncate(24 * time.Hour); !day.After(until.UTC().Add(24 * time.Hour)); day = day.Add(24 * time.Hour) {
				objs, err := c.List(ctx, loc.bucket, region+day.Format("2006/01/02/"))
				if err != nil {
					return n, err
				}
				for _, o := range objs {
					name := o.Key[strings.LastIndexByte(o.Key, '/')+1:]
					if accesslog.FileKind(name) != kind {
						continue
					}
					end, _, ok := analyze.FileInterval(name)
					if !ok || !end.After(since) || !end.Add(-logInterval).Before(until) {
						continue
					}
					body, err := c.Get(ctx, loc.bucket, o.Key)
					if err != nil {
						return n, err
					}
					path := filepath.Join(dir, filepath.FromSlash(o.Key))
					if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
						return n, err
					}
					if err := os.WriteFile(path, body, 0o600); err != nil {
						return n, err
					}
					n++
				}
			}
		}
	}
	return n, nil
}

// s3Inputs replaces the s3:// names among names by a temporary directory
// holding the objects of the kind of log they name within the filter's
// window (the last hour when --since is not given); cleanup removes it.
func s3Inputs(ctx context.Context, names []string, kind string, so logship.S3Options, since, until *time.Time, now time.Time) ([]string, func(), error) {
	var locs []s3Location
	var out []string
	for _, name := range names {
		if !strings.HasPrefix(name, "s3://") {
			out = append(out, name)
			continue
		}
		loc, err := parseS3URL(name)
		if err != nil {
			return nil, nil, err
		}
		locs = append(locs, loc)
	}
	if len(locs) == 0 {
		return names, func() {}, nil
	}
	if since.IsZero() {
		*since = now.Add(-s3Window)
	}
	to := *until
	if to.IsZero() {
		to = now
	}
	c, err := logship.NewS3Client(ctx, so)
	if err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp("", "albatross-s3-")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	for i, loc := range locs {
		sub := filepath.Join(dir, fmt.Sprint(i))
		if _, err := fetchS3(ctx, c, loc, *since, to, kind, sub); err != nil {
			cleanup()
			return nil, nil, fmt.Errorf("s3://%s/%s: %w", loc.bucket, loc.prefix, err)
		}
		if _, err := os.Stat(sub); err == nil {
			out = append(out, sub)
		}
	}
	return out, cleanup, nil
}
