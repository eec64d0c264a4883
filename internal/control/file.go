package control

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/snapshot"
)

// Defaults of the fields a configuration file does not carry.
const (
	SchemeInternetFacing = "internet-facing"
	SchemeInternal       = "internal"
	IPAddressTypeIPv4    = "ipv4"
	TargetTypeIP         = "ip"
	ProtocolVersionHTTP1 = "HTTP1"
)

// DefaultVpcID is the VPC id reported for resources that were given none: a
// stable "vpc-" and 17 hex digits derived from the account, so that it looks
// like AWS's and does not change between restarts.
func (m *Model) DefaultVpcID() string {
	sum := sha256.Sum256([]byte("albatross-vpc/" + m.AccountID + "/" + m.Region))
	return "vpc-" + hex.EncodeToString(sum[:])[:17]
}

// ImportFile applies a configuration file to the model, as one change. The file
// is one door to the model, the ELBv2 API the other; the rule between them:
//
//   - Every load balancer, target group and listener the file declares is
//     created, or updated by name (listeners by load balancer and port), with
//     exactly the settings the file gives (defaults for what it leaves out),
//     at every start and every reload. The file wins over API changes to the
//     resources it declares.
//   - Resources that an earlier version of the file declared and this one does
//     not are deleted. Resources created through the API, and API changes to
//     what the file does not say (tags), are kept.
//   - In a cluster (Options.FileOwner set), each node's file is its own: a
//     resource records the node whose file declared it last, and a node's
//     file deletes only what its own earlier files declared. Two files that
//     declare one resource differently: the node that applied its file last
//     wins that resource (and owns it).
//
// Like any change, it is applied all or nothing.
func (c *Controller) ImportFile(ctx context.Context, cfg *config.Config) error {
	return c.Update(ctx, func(tx *Tx) error { return importFile(tx, cfg) })
}

func importFile(tx *Tx, cfg *config.Config) error {
	tx.keepIDs = true
	defer func() { tx.keepIDs = false }()
	m := tx.Model()
	m.Region, m.AccountID = cfg.Region, cfg.AccountID
	now := tx.Now()
	owner := tx.c.opts.FileOwner

	if err := importTrustStores(tx, cfg); err != nil {
		return err
	}

	fileTGs := map[string]bool{}
	for _, ftg := range cfg.TargetGroups {
		fileTGs[ftg.Name] = true
		old := m.TargetGroupByName(ftg.Name)
		var rec *TargetGroup
		if old == nil {
			id, err := tx.NewID(snapshot.TargetGroupKey(ftg.Name))
			if err != nil {
				return err
			}
			rec = &TargetGroup{ID: id, Name: ftg.Name, Seq: tx.NextSeq(), CreatedTime: now,
				VpcID: m.DefaultVpcID(), TargetType: TargetTypeIP, ProtocolVersion: ProtocolVersionHTTP1, IPAddressType: IPAddressTypeIPv4}
		} else {
			rec = old.Clone()
		}
		rec.Protocol, rec.Port, rec.HealthCheck, rec.Attributes = ftg.Protocol, ftg.Port, ftg.HealthCheck, ftg.Attributes
		// The record keeps the gRPC matcher where the API does.
		rec.GrpcCode, rec.HealthCheck.GrpcCode = ftg.HealthCheck.GrpcCode, ""
		rec.ProtocolVersion = ftg.ProtocolVersion
		if rec.ProtocolVersion == "" {
			rec.ProtocolVersion = ProtocolVersionHTTP1
		}
		rec.Targets = nil
		for _, t := range ftg.Targets {
			rec.Targets = append(rec.Targets, Target{ID: t.ID, Port: t.Port})
		}
		rec.FromFile, rec.FileOwner = true, owner
		if old == nil || !reflect.DeepEqual(rec, old) {
			tx.PutTargetGroup(rec)
		}
	}

	fileLBs := map[string]bool{}
	fileListeners := map[string]bool{} // listener ids the file declares
	for _, flb := range cfg.LoadBalancers {
		fileLBs[flb.Name] = true
		old := m.LoadBalancerByName(flb.Name)
		var rec *LoadBalancer
		if old == nil {
			id, err := tx.NewID(snapshot.LoadBalancerKey(flb.Name))
			if err != nil {
				return err
			}
			rec = &LoadBalancer{ID: id, Name: flb.Name, Seq: tx.NextSeq(), CreatedTime: now,
				Scheme: SchemeInternetFacing, IPAddressType: IPAddressTypeIPv4}
		} else {
			rec = old.Clone()
		}
		rec.Attributes, rec.AccessLog, rec.FromFile, rec.FileOwner = flb.Attributes, flb.AccessLog, true, owner
		rec.ConnectionLog, rec.HealthCheckLog = flb.ConnectionLog, flb.HealthCheckLog
		if old == nil || !reflect.DeepEqual(rec, old) {
			tx.PutLoadBalancer(rec)
		}
		for _, fl := range flb.Listeners {
			var oldL *Listener
			for _, l := range m.ListenersOf(rec.ID) {
				if l.Port == fl.Port {
					oldL = l
				}
			}
			var l *Listener
			if oldL == nil {
				id, err := tx.NewID(snapshot.ListenerKey(flb.Name, fl.Port))
				if err != nil {
					return err
				}
				ruleID, err := tx.NewID("rule/" + id + "/default")
				if err != nil {
					return err
				}
				l = &Listener{ID: id, LoadBalancerID: rec.ID, Seq: tx.NextSeq(), Port: fl.Port, DefaultRuleID: ruleID}
			} else {
				l = oldL.Clone()
			}
			l.Protocol, l.Address, l.FromFile, l.FileOwner = fl.Protocol, fl.Address, true, owner
			l.Certificates, l.SSLPolicy = fl.Certificates, fl.SSLPolicy
			l.DefaultActions, l.Attributes = fl.DefaultActions, fl.Attributes
			ma, err := fileMutualAuthentication(m, fl.MutualAuthentication)
			if err != nil {
				return fmt.Errorf("load balancer %q: listener %d: mutual_authentication: %w", flb.Name, fl.Port, err)
			}
			l.MutualAuthentication = ma
			for _, name := range fl.TargetGroupNames() {
				if m.TargetGroupByName(name) == nil {
					return fmt.Errorf("load balancer %q: listener %d: target group %q does not exist", flb.Name, fl.Port, name)
				}
			}
			// The file's rules replace the listener's; a rule keeps its id (and
			// ARN) while its priority stays the same.
			oldIDs := map[int]string{}
			for _, r := range l.Rules {
				oldIDs[r.Priority] = r.ID
			}
			l.Rules = nil
			for _, fr := range fl.Rules {
				id := oldIDs[fr.Priority]
				if id == "" {
					var err error
					if id, err = tx.NewRuleID(); err != nil {
						return err
					}
				}
				l.Rules = append(l.Rules, Rule{ID: id, Priority: fr.Priority, Conditions: fr.Conditions, Actions: fr.Actions, Transforms: fr.Transforms})
			}
			fileListeners[l.ID] = true
			if oldL == nil || !reflect.DeepEqual(l, oldL) {
				tx.PutListener(l)
			}
		}
	}

	// What earlier versions of the file declared and this one does not.
	for _, l := range m.SortedListeners() {
		lb := m.LoadBalancers[l.LoadBalancerID]
		lbGone := lb != nil && lb.FromFile && lb.FileOwner == owner && !fileLBs[lb.Name]
		if (l.FromFile && l.FileOwner == owner && !fileListeners[l.ID]) || lbGone {
			tx.DeleteListener(l.ID)
		}
	}
	for _, lb := range m.SortedLoadBalancers() {
		if lb.FromFile && lb.FileOwner == owner && !fileLBs[lb.Name] {
			tx.DeleteLoadBalancer(lb.ID)
		}
	}
	for _, tg := range m.SortedTargetGroups() {
		if !tg.FromFile || tg.FileOwner != owner || fileTGs[tg.Name] {
			continue
		}
		if users := m.ListenersUsing(tg.ID); len(users) > 0 {
			return fmt.Errorf("target group %q was removed from the file but listener %s still forwards to it; delete or change that listener first", tg.Name, m.ListenerARN(users[0]))
		}
		tx.DeleteTargetGroup(tg.ID)
	}
	return removeFileTrustStores(tx, cfg)
}
