package config

import "testing"

func TestParseHTTPSListener(t *testing.T) {
	cfg, err := Parse("t.yaml", []byte(`load_balancers:
  - name: web
    connection_log: {path: conn.log}
    listeners:
      - port: 443
        protocol: HTTPS
        certificates:
          - {cert: a.pem, key: a.key}
          - {cert: b.pem, key: b.key, arn: "arn:aws:acm:us-east-1:000000000000:certificate/b"}
        default_actions: [{type: forward, target_group: app}]
      - port: 8443
        protocol: HTTPS
        ssl_policy: ELBSecurityPolicy-FS-1-2-Res-2020-10
        certificates: [{cert: a.pem, key: a.key}]
        default_actions: [{type: forward, target_group: grpc}]
target_groups:
  - {name: app, port: 443, protocol: HTTPS}
  - {name: grpc, port: 50051, protocol_version: GRPC}
`))
	if err != nil {
		t.Fatal(err)
	}
	lb := cfg.LoadBalancers[0]
	l := lb.Listeners[0]
	if l.SSLPolicy != DefaultSSLPolicy || len(l.Certificates) != 2 || l.Certificates[1].ARN != "arn:aws:acm:us-east-1:000000000000:certificate/b" || l.Certificates[0].Key != "a.key" {
		t.Errorf("listener 443: %+v", l)
	}
	if lb.Listeners[1].SSLPolicy != "ELBSecurityPolicy-FS-1-2-Res-2020-10" || lb.ConnectionLog.Path != "conn.log" {
		t.Errorf("listener 8443 policy %q, connection log %+v", lb.Listeners[1].SSLPolicy, lb.ConnectionLog)
	}
	if cfg.TargetGroups[0].Protocol != "HTTPS" || cfg.TargetGroups[0].ProtocolVersion != ProtocolVersionHTTP1 || cfg.TargetGroups[1].ProtocolVersion != ProtocolVersionGRPC {
		t.Errorf("target groups %+v", cfg.TargetGroups)
	}
}
