package backup

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/retention"
)

// RetentionView is what the retention of a schedule's backups depends on,
// read from the cluster as garbage collection reads it.
type RetentionView struct {
	Input retention.Input
	// Schedule is nil when the schedule no longer exists.
	Schedule *arkv1.Schedule
	// Note says what could not be read (the Config, for one), if anything.
	Note string
	// DefaultTTL is the TTL of a backup whose spec sets none: the Config's
	// defaultBackupTTL, else the server's default (its --default-backup-ttl
	// flag is not visible to the CLI; 720h unless changed).
	DefaultTTL time.Duration
}

// ReadRetention reads the backups of schedule (all backups without a
// schedule when schedule is ""), the Schedule and the Config's default
// retention.
func ReadRetention(ctx context.Context, c client.Client, ns, schedule string, now time.Time) (*RetentionView, error) {
	var backups arkv1.BackupList
	if err := c.List(ctx, &backups, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	v := &RetentionView{Input: retention.Input{Now: now}}
	for _, b := range backups.Items {
		if arkv1.ScheduleName(&b) == schedule {
			v.Input.Backups = append(v.Input.Backups, b)
		}
	}
	if schedule == "" {
		return v, nil
	}
	var s arkv1.Schedule
	switch err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: schedule}, &s); {
	case err == nil:
		v.Schedule = &s
	case !apierrors.IsNotFound(err):
		return nil, err
	}
	var cfg arkv1.Config
	var config *arkv1.Config
	v.DefaultTTL = retention.DefaultTTL
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: arkv1.DefaultConfigName}, &cfg); err == nil {
		config = &cfg
		if ttl := cfg.DefaultBackupTTL.Duration; ttl > 0 {
			v.DefaultTTL = ttl
		}
	} else if v.Schedule == nil || v.Schedule.Spec.Retention == nil {
		v.Note = fmt.Sprintf("the Config's default retention could not be read (%v), so it is left out", err)
	}
	var schedules []arkv1.Schedule
	if v.Schedule != nil {
		schedules = []arkv1.Schedule{*v.Schedule}
	}
	v.Input.Policies = retention.Policies(schedules, v.Input.Backups, config)
	if _, ok := v.Input.Policies[schedule]; !ok {
		v.Input.Policies[schedule] = retention.PolicyOf(v.Schedule, config)
	}
	return v, nil
}

// describeRetention says why a backup is kept or when it goes.
func describeRetention(b *arkv1.Backup, v *RetentionView) []string {
	d, ok := retention.Evaluate(v.Input)[b.Name]
	if !ok {
		return []string{"unknown (the backup was not listed)"}
	}
	expires := "no expiration recorded"
	if d.Expires != nil {
		expires = "its TTL expires at " + d.Expires.Format(time.RFC3339)
	}
	var lines []string
	switch {
	case d.Verdict == retention.Unfinished:
		lines = append(lines, "decided once the backup has finished (a running backup is never expired)")
	case b.Status.Phase == arkv1.BackupPhaseDeleting && d.Verdict == retention.Keep:
		lines = append(lines, "being deleted (see 'ark backup describe' of its DeleteBackupRequest with kubectl)")
	case d.Verdict == retention.Delete:
		lines = append(lines, "deleted at the next garbage collection: "+d.Reason)
	case d.Guard != "":
		lines = append(lines, fmt.Sprintf("kept: the %s of schedule %s, which expiry never deletes, whatever its TTL and keep counts say (%s)", d.Guard, d.Schedule, expires))
		lines = append(lines, "it can go once a newer backup of the schedule Completes")
	case d.Schedule == "":
		lines = append(lines, fmt.Sprintf("kept until %s (made by hand: only the TTL applies)", strings.TrimPrefix(expires, "its TTL expires at ")))
	default:
		policy := v.Input.Policies[d.Schedule]
		if len(d.KeptBy) > 0 {
			lines = append(lines, fmt.Sprintf("kept by %s of schedule %s; %s", strings.Join(d.KeptBy, ", "), d.Schedule, expires))
			lines = append(lines, fmt.Sprintf("newer backups may push it out of the keep counts (%s) sooner: see 'ark schedule describe %s'", retention.Describe(policy), d.Schedule))
		} else {
			lines = append(lines, fmt.Sprintf("kept until %s; schedule %s has %s", strings.TrimPrefix(expires, "its TTL expires at "), d.Schedule, retention.Describe(policy)))
		}
	}
	if v.Note != "" {
		lines = append(lines, "("+v.Note+")")
	}
	return lines
}
