// Package analyze is the streaming aggregation behind `albatross logs`: it
// reads ALB access logs (ours and real ones from AWS, of every field version,
// plain or gzip, from files, directory trees in ALB's S3 key layout, or stdin),
// parses them with accesslog.ParseLine in parallel over files and chunks, and
// reduces them to a Report: counts by status, target and normalised path,
// latency percentiles, the 460/502/503/504 breakdown, and findings that name
// the timeout behind the errors.
//
// Memory does not grow with the input: lines are read in fixed-size chunks,
// percentiles come from fixed-size log-linear histograms (exact below
// 1.024 s, within 0.1% above), and every per-key table keeps a bounded number
// of keys (exact below its limit, a pruned frequent-items summary above; the
// report says when that happened).
package analyze
