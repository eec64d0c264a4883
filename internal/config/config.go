// Package config is Albatross's resource model: load balancers, listeners, actions,
// target groups and targets with the names, attribute keys, defaults and validation
// rules AWS uses. It decodes the YAML file and validates it; it does no other I/O.
// The YAML file and (later) the ELBv2 API are two doors into this one model.
package config

import "time"

// Config is a validated configuration: every reference resolves, every value is in
// range and every default is filled in. Values of this type are never mutated after
// Parse returns them.
type Config struct {
	// Region is the AWS region written into ARNs (default "us-east-1").
	Region string `yaml:"region"`
	// AccountID is the 12-digit account written into ARNs (default "000000000000").
	AccountID string `yaml:"account_id"`
	// LoadBalancers may be empty (a node whose resources come from the API
	// starts so); names are unique.
	LoadBalancers []LoadBalancer `yaml:"load_balancers"`
	// TargetGroups may be empty; names are unique, and each group is used by at
	// most one load balancer, as on AWS.
	TargetGroups []TargetGroup `yaml:"target_groups"`
	// TrustStores are the trust stores of mutual TLS listeners; names are
	// unique.
	TrustStores []TrustStore `yaml:"trust_stores"`
}

// LoadBalancer returns the load balancer named name, or nil. The result points
// into c and must not be modified.
func (c *Config) LoadBalancer(name string) *LoadBalancer {
	for i := range c.LoadBalancers {
		if c.LoadBalancers[i].Name == name {
			return &c.LoadBalancers[i]
		}
	}
	return nil
}

// TargetGroup returns the target group named name, or nil. The result points
// into c and must not be modified.
func (c *Config) TargetGroup(name string) *TargetGroup {
	for i := range c.TargetGroups {
		if c.TargetGroups[i].Name == name {
			return &c.TargetGroups[i]
		}
	}
	return nil
}

// LoadBalancer is one Application Load Balancer.
type LoadBalancer struct {
	// Name is 1-32 characters, alphanumerics and hyphens, not starting or ending
	// with a hyphen and not starting with "internal-", as AWS requires.
	Name string `yaml:"name"`
	// Attributes holds every load balancer attribute by its AWS key, defaults
	// filled in, values as AWS's API returns them ("60", "true").
	Attributes map[string]string `yaml:"attributes"`
	// Attrs is the typed form of Attributes, filled by validation.
	Attrs LoadBalancerAttributes `yaml:"-"`
	// AccessLog is where this load balancer's access log goes (default: none).
	AccessLog AccessLog `yaml:"access_log"`
	// ConnectionLog is where this load balancer's connection log goes (default:
	// none): one line per client connection attempt on its HTTPS listeners,
	// including failed TLS handshakes, in ALB's connection log format. Same
	// keys as AccessLog; Directory mode names files conn_log_*.
	ConnectionLog AccessLog `yaml:"connection_log"`
	// HealthCheckLog is where this load balancer's health-check log goes
	// (default: none): one line per health check of a target of its target
	// groups, in ALB's health-check log format. Same keys as AccessLog;
	// Directory mode names files health_check_log_*.
	HealthCheckLog AccessLog `yaml:"health_check_log"`
	// Listeners may be empty (AWS allows a load balancer without listeners).
	Listeners []Listener `yaml:"listeners"`
}

// LoadBalancerAttributes are the load balancer attributes the data plane reads.
type LoadBalancerAttributes struct {
	// IdleTimeout is idle_timeout.timeout_seconds (default 60 s, 1-4000 s): a client
	// or target connection with no byte in either direction for this long is closed.
	IdleTimeout time.Duration
	// ClientKeepAlive is client_keep_alive.seconds (default 3600 s, 60-604800 s): the
	// maximum life of a client connection, not reset by traffic.
	ClientKeepAlive time.Duration
	// DesyncMitigationMode is routing.http.desync_mitigation_mode: monitor,
	// defensive (default) or strictest.
	DesyncMitigationMode string
	// DropInvalidHeaderFields is routing.http.drop_invalid_header_fields.enabled.
	DropInvalidHeaderFields bool
	// PreserveHostHeader is routing.http.preserve_host_header.enabled.
	PreserveHostHeader bool
	// XFFClientPort is routing.http.xff_client_port.enabled.
	XFFClientPort bool
	// XFFHeaderProcessingMode is routing.http.xff_header_processing.mode: append
	// (default), preserve or remove.
	XFFHeaderProcessingMode string
	// TLSVersionAndCipherSuiteHeaders is
	// routing.http.x_amzn_tls_version_and_cipher_suite.enabled.
	TLSVersionAndCipherSuiteHeaders bool
	// HTTP2Enabled is routing.http2.enabled (default true).
	HTTP2Enabled bool
	// WAFFailOpen is waf.fail_open.enabled (default false). Stored for API
	// fidelity; Albatross has no WAF.
	WAFFailOpen bool
	// DeletionProtection is deletion_protection.enabled (default false): when true
	// the ELBv2 API refuses DeleteLoadBalancer.
	DeletionProtection bool
	// AccessLogsS3, ConnectionLogsS3 and HealthCheckLogsS3 are the access_logs.s3.*,
	// connection_logs.s3.* and health_check_logs.s3.* attributes (default off):
	// with serve's S3 settings, the node delivers those logs to the bucket.
	AccessLogsS3      S3LogAttributes
	ConnectionLogsS3  S3LogAttributes
	HealthCheckLogsS3 S3LogAttributes
	// IPv6DenyAllIGWTraffic is ipv6.deny_all_igw_traffic (default false, AWS's
	// value for an internet-facing load balancer). Network level; stored only.
	IPv6DenyAllIGWTraffic bool
	// ZonalShift is zonal_shift.config.enabled (default false). Stored only.
	ZonalShift bool
}

// S3LogAttributes is one of the ALB's S3 log deliveries: the PREFIX.s3.enabled,
// PREFIX.s3.bucket and PREFIX.s3.prefix attributes.
type S3LogAttributes struct {
	// Enabled defaults to false; when true Bucket is required.
	Enabled bool
	// Bucket is an S3 bucket name (3-63 characters), empty when unset.
	Bucket string
	// Prefix is the key prefix; it may not contain "AWSLogs".
	Prefix string
}

// AccessLog says where a load balancer writes its access log. At most one of Path
// and Directory is set; neither means no access log.
type AccessLog struct {
	// Path is a file that gets one ALB line per request, appended.
	Path string `yaml:"path"`
	// Directory receives gzip files every 5 minutes in ALB's S3 key layout.
	Directory string `yaml:"directory"`
}

// Listener is one port a load balancer accepts connections on.
type Listener struct {
	// Port is 1-65535, unique per load balancer.
	Port int `yaml:"port"`
	// Address is the IP to bind (default "0.0.0.0"), in canonical form. No two
	// listeners anywhere in a configuration may bind overlapping sockets.
	Address string `yaml:"address"`
	// Protocol is HTTP (the default) or HTTPS.
	Protocol string `yaml:"protocol"`
	// Certificates are an HTTPS listener's certificates (at least one; none on
	// HTTP). The first is the default certificate; the others are chosen by
	// SNI as ALB chooses: exact name, then wildcard, then the default.
	Certificates []Certificate `yaml:"certificates"`
	// SSLPolicy is an HTTPS listener's ALB security policy name (default
	// DefaultSSLPolicy; empty on HTTP listeners).
	SSLPolicy string `yaml:"ssl_policy"`
	// MutualAuthentication is an HTTPS listener's mutual TLS (nil: off).
	MutualAuthentication *MutualAuthentication `yaml:"mutual_authentication"`
	// DefaultActions has exactly one action: the default rule's, run when no
	// rule matches.
	DefaultActions []Action `yaml:"default_actions"`
	// Rules are the listener's rules in the order written; priorities are
	// unique and decide the evaluation order.
	Rules []Rule `yaml:"rules"`
	// Attributes holds every listener attribute by its AWS key, defaults
	// filled in (see ListenerAttributeDefaults).
	Attributes map[string]string `yaml:"attributes"`
	// Attrs is the typed form of Attributes, filled by validation.
	Attrs ListenerAttributes `yaml:"-"`
}

// Certificate is one certificate of an HTTPS listener, read from PEM files when
// the configuration is applied (and again on every reload).
type Certificate struct {
	// Cert is a PEM file with the certificate chain, leaf first.
	Cert string `yaml:"cert"`
	// Key is a PEM file with the private key.
	Key string `yaml:"key"`
	// ARN is the certificate's ARN as logged in chosen_cert_arn (default: an
	// ACM-style ARN derived from the certificate; the ELBv2 API sets the
	// CertificateArn it was given).
	ARN string `yaml:"arn"`
}

// Action is a listener or rule action: forward, redirect or fixed-response.
// Exactly the configuration its type needs is set.
type Action struct {
	// Type is the AWS action type: forward, redirect, fixed-response,
	// authenticate-oidc, authenticate-cognito or jwt-validation.
	Type string `yaml:"type"`
	// TargetGroup names the target group of a single-group forward action (the
	// short form of Forward).
	TargetGroup string `yaml:"target_group"`
	// Forward is a forward action's weighted target groups and group
	// stickiness.
	Forward *ForwardConfig `yaml:"forward"`
	// Redirect is a redirect action's configuration; after Parse every
	// component is set (omitted ones hold their placeholder).
	Redirect *RedirectConfig `yaml:"redirect"`
	// FixedResponse is a fixed-response action's configuration.
	FixedResponse *FixedResponseConfig `yaml:"fixed_response"`
	// Order places the action in its list (1-50000, lowest first); required
	// when the list has several actions.
	Order int `yaml:"order"`
	// AuthenticateOIDC is an authenticate-oidc action's configuration.
	AuthenticateOIDC *AuthenticateOIDCConfig `yaml:"authenticate_oidc"`
	// AuthenticateCognito is an authenticate-cognito action's configuration.
	AuthenticateCognito *AuthenticateCognitoConfig `yaml:"authenticate_cognito"`
	// JWTValidation is a jwt-validation action's configuration.
	JWTValidation *JWTValidationConfig `yaml:"jwt_validation"`
}

// TargetGroup is a set of targets that a forward action balances over.
type TargetGroup struct {
	// Name follows the same rules as a load balancer name (ValidName), except
	// that the "internal-" prefix is allowed.
	Name string `yaml:"name"`
	// Protocol is the protocol to the targets: HTTP (default) or HTTPS (TLS
	// without certificate verification, as ALB).
	Protocol string `yaml:"protocol"`
	// ProtocolVersion is how requests reach the targets: ProtocolVersionHTTP1
	// (default; HTTP/2 requests are converted to HTTP/1.1), ProtocolVersionHTTP2
	// or ProtocolVersionGRPC (HTTP/2 to the targets, h2c over HTTP or h2 over
	// TLS; only behind HTTPS listeners, only HTTP/2 clients).
	ProtocolVersion string `yaml:"protocol_version"`
	// Port is the default port of targets registered without one (1-65535).
	Port int `yaml:"port"`
	// HealthCheck holds the health check settings with AWS's defaults.
	HealthCheck HealthCheck `yaml:"health_check"`
	// Attributes holds every target group attribute by its AWS key, defaults
	// filled in, values as AWS's API returns them.
	Attributes map[string]string `yaml:"attributes"`
	// Attrs is the typed form of Attributes, filled by validation.
	Attrs TargetGroupAttributes `yaml:"-"`
	// Targets are the registered targets, no (ID, Port) twice.
	Targets []Target `yaml:"targets"`
	// Draining are targets deregistered through the API and when their
	// deregistration delay ends, as the change recorded it; not in a file.
	Draining []DrainingTarget `yaml:"-"`
}

// DrainingTarget is a deregistered target and the wall-clock time its
// deregistration delay ends.
type DrainingTarget struct {
	Target
	Until time.Time
}

// TargetGroupAttributes are the target group attributes the data plane reads.
type TargetGroupAttributes struct {
	// DeregistrationDelay is deregistration_delay.timeout_seconds (default 300 s).
	DeregistrationDelay time.Duration
	// SlowStart is slow_start.duration_seconds (default 0, off).
	SlowStart time.Duration
	// Algorithm is load_balancing.algorithm.type (default round_robin): one of
	// AlgorithmRoundRobin, AlgorithmLeastOutstandingRequests, AlgorithmWeightedRandom.
	Algorithm string
	// AnomalyMitigation is load_balancing.algorithm.anomaly_mitigation == "on"
	// (default off; only with weighted_random).
	AnomalyMitigation bool
	// CrossZone is load_balancing.cross_zone.enabled: "true", "false" or
	// "use_load_balancer_configuration" (default).
	CrossZone string
	// Stickiness holds the stickiness.* attributes.
	Stickiness Stickiness
	// DNSFailoverMinHealthyCount and DNSFailoverMinHealthyPercentage are
	// target_group_health.dns_failover.minimum_healthy_targets.count (default 1)
	// and .percentage (default off); 0 means "off".
	DNSFailoverMinHealthyCount      int
	DNSFailoverMinHealthyPercentage int
	// UnhealthyStateRoutingMinHealthyCount is
	// target_group_health.unhealthy_state_routing.minimum_healthy_targets.count
	// (default 1): below this many healthy targets, requests go to all targets.
	UnhealthyStateRoutingMinHealthyCount int
	// UnhealthyStateRoutingMinHealthyPercentage is the .percentage twin of
	// UnhealthyStateRoutingMinHealthyCount (default off, 0 here).
	UnhealthyStateRoutingMinHealthyPercentage int
	// TargetIdleTimeout is the Albatross extension
	// target_keep_alive.idle_timeout_seconds (default 0, unset): when set, idle
	// connections to targets are closed after this long even if the load balancer
	// idle timeout is longer. It exists because a target that closes keep-alive
	// connections sooner than the load balancer causes 502s (see ARCHITECTURE.md,
	// principle 4); it cannot be larger than the load balancer's idle timeout,
	// which closes idle target connections anyway.
	TargetIdleTimeout time.Duration
	// RetryMode is the Albatross extension target_keep_alive.retry_mode:
	// RetryModeSafe (default) retries a request on a fresh connection when a
	// reused one fails and the retry is provably safe; RetryModeCompat never
	// retries, as ALB does (the client gets the 502).
	RetryMode string
}

// Stickiness is a target group's stickiness.* attributes.
type Stickiness struct {
	// Enabled is stickiness.enabled (default false).
	Enabled bool
	// Type is stickiness.type: "lb_cookie" (default) or "app_cookie".
	Type string
	// LBCookieDuration is stickiness.lb_cookie.duration_seconds (default 86400 s,
	// 1-604800 s).
	LBCookieDuration time.Duration
	// AppCookieName is stickiness.app_cookie.cookie_name (default empty; required
	// when Type is app_cookie and Enabled).
	AppCookieName string
	// AppCookieDuration is stickiness.app_cookie.duration_seconds (default
	// 86400 s, 1-604800 s).
	AppCookieDuration time.Duration
}

// HealthCheck is a target group's health check, with AWS's names and defaults.
type HealthCheck struct {
	// Enabled defaults to true.
	Enabled *bool `yaml:"enabled"`
	// Protocol is HTTP (default) or HTTPS.
	Protocol string `yaml:"protocol"`
	// Port is "traffic-port" (default) or a port number.
	Port string `yaml:"port"`
	// Path defaults to "/".
	Path string `yaml:"path"`
	// IntervalSeconds is 5-300, default 30.
	IntervalSeconds int `yaml:"interval_seconds"`
	// TimeoutSeconds is 2-120 and less than IntervalSeconds. Default 5 (AWS's),
	// or IntervalSeconds-1 when the interval is 5 or less, so that a short
	// interval alone is a valid setting.
	TimeoutSeconds int `yaml:"timeout_seconds"`
	// HealthyThresholdCount is 2-10, default 5.
	HealthyThresholdCount int `yaml:"healthy_threshold_count"`
	// UnhealthyThresholdCount is 2-10, default 2.
	UnhealthyThresholdCount int `yaml:"unhealthy_threshold_count"`
	// Matcher is the HTTP codes that mean healthy: "200", "200,202" or "200-299".
	Matcher string `yaml:"matcher"`
	// GrpcCode is the gRPC status codes that mean healthy, for GRPC target
	// groups only (whose checks are gRPC calls judged by grpc-status): "12"
	// (default), "0,12" or "0-99". Matcher is then not used.
	GrpcCode string `yaml:"grpc_code"`
}

// Target is one registered target: an IP address and a port.
type Target struct {
	// ID is the target's IP address (ip target type).
	ID string `yaml:"id"`
	// Port defaults to the target group's port.
	Port int `yaml:"port"`
}
