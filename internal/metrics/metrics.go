// Package metrics defines Ark's Prometheus metrics, served on the server's
// /metrics endpoint next to controller-runtime's own.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	backups = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ark_backups_total",
		Help: "Backups finished, by final phase (Completed, PartiallyFailed, Failed, FailedValidation, Cancelled).",
	}, []string{"phase"})
	backupDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "ark_backup_duration_seconds",
		Help:    "How long backups that ran took, from InProgress to their end.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 14), // 1s .. ~2.3h
	})
	backupItems = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ark_backup_items_total",
		Help: "Items written into backup archives.",
	})
	backupArchiveBytes = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "ark_backup_last_archive_size_bytes",
		Help: "Size of the last completed backup's archive.",
	})
	lastSuccessfulBackup = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "ark_backup_last_successful_timestamp_seconds",
		Help: "When the last backup Completed (Unix time). Alert when it grows old.",
	})
	verifications = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ark_backup_verification_total",
		Help: "Backup archives read back from object storage and verified, by result (passed, failed, or unreadable when the store could not be read).",
	}, []string{"result"})
	lastVerification = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ark_backup_last_verification_timestamp_seconds",
		Help: "When a backup archive was last verified (Unix time), by result. Alert when the passed one grows old or the failed one moves.",
	}, []string{"result"})
	restores = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ark_restores_total",
		Help: "Restores finished, by final phase (Completed, PartiallyFailed, Failed, FailedValidation, Cancelled).",
	}, []string{"phase"})
	restoreDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "ark_restore_duration_seconds",
		Help:    "How long restores that ran took.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 14),
	})
)

func init() {
	metrics.Registry.MustRegister(backups, backupDuration, backupItems, backupArchiveBytes,
		lastSuccessfulBackup, verifications, lastVerification, restores, restoreDuration)
}

// BackupFinished records a backup's end. ran is how long it ran (0 when it
// never started, e.g. FailedValidation).
func BackupFinished(phase string, ran time.Duration, items int, archiveBytes int64) {
	backups.WithLabelValues(phase).Inc()
	if ran > 0 {
		backupDuration.Observe(ran.Seconds())
	}
	backupItems.Add(float64(items))
	if phase == "Completed" {
		backupArchiveBytes.Set(float64(archiveBytes))
		lastSuccessfulBackup.SetToCurrentTime()
	}
}

// RestoreFinished records a restore's end.
func RestoreFinished(phase string, ran time.Duration) {
	restores.WithLabelValues(phase).Inc()
	if ran > 0 {
		restoreDuration.Observe(ran.Seconds())
	}
}

// Results of a backup verification, the label of its metrics.
const (
	VerificationPassed     = "passed"
	VerificationFailed     = "failed"
	VerificationUnreadable = "unreadable"
)

// BackupVerified records one verification of a backup's archive.
func BackupVerified(result string) {
	verifications.WithLabelValues(result).Inc()
	lastVerification.WithLabelValues(result).SetToCurrentTime()
}
