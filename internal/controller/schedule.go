package controller

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/schedule"
	"github.com/heptio/ark/internal/settings"
)

// ScheduleReconciler validates Schedules and creates their backups when due.
//
// Each run time gets exactly one backup, named after the run time, so the
// name itself is the guard against duplicates: a second attempt for the same
// time (after a crash, or from a stale cache) gets AlreadyExists and only
// records what was done. Run times missed while the server was down collapse
// into one catch-up backup for the most recent of them (see schedule.Due).
type ScheduleReconciler struct {
	Client   client.Client
	Settings *settings.Settings
	Log      *slog.Logger
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time

	// restoreOnlyLogged makes the "schedules are off" message appear once
	// per switch into restore-only mode rather than once per schedule and
	// minute.
	restoreOnlyLogged atomic.Bool
}

func (r *ScheduleReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Reconcile validates a schedule and, when a run is due, creates its backup.
func (r *ScheduleReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var s arkv1.Schedule
	if err := r.Client.Get(ctx, req.NamespacedName, &s); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !s.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	log := r.Log.With("schedule", s.Namespace+"/"+s.Name)
	cfg, err := r.Settings.Config()
	if err != nil {
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	}
	if cfg.RestoreOnlyMode {
		if !r.restoreOnlyLogged.Swap(true) {
			r.Log.Info("restore-only mode (Config restoreOnlyMode: true): schedules are left alone and create no backups until it is turned off")
		}
		log.Debug("schedule left alone: restore-only mode")
		return ctrl.Result{RequeueAfter: settings.ScheduleSyncPeriod(cfg)}, nil
	}
	r.restoreOnlyLogged.Store(false)

	sched, problems := schedule.Validate(&s)
	if len(problems) > 0 {
		if s.Status.Phase != arkv1.SchedulePhaseFailedValidation || !slices.Equal(s.Status.ValidationErrors, problems) {
			log.Info("schedule failed validation", "errors", problems)
		}
		return ctrl.Result{}, r.patchStatus(ctx, &s, func(s *arkv1.Schedule) {
			s.Status.Phase = arkv1.SchedulePhaseFailedValidation
			s.Status.ValidationErrors = problems
		})
	}
	if s.Status.Phase != arkv1.SchedulePhaseEnabled {
		if err := r.patchStatus(ctx, &s, func(s *arkv1.Schedule) {
			s.Status.Phase = arkv1.SchedulePhaseEnabled
			s.Status.ValidationErrors = nil
		}); err != nil {
			return ctrl.Result{}, err
		}
		log.Info("schedule enabled", "schedule", s.Spec.Schedule)
	}

	now := r.now()
	after := s.CreationTimestamp.Time
	if s.Status.LastBackup != nil {
		after = s.Status.LastBackup.Time
	}
	due, ok, next := schedule.Due(sched, after, now)
	if ok {
		if err := r.createBackup(ctx, log, &s, due, now); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{RequeueAfter: requeueDelay(now, next, settings.ScheduleSyncPeriod(cfg))}, nil
}

// requeueDelay is the wait until the next run time, but at most period, so
// Config changes (restore-only mode, a shorter period) and clock jumps are
// noticed.
func requeueDelay(now, next time.Time, period time.Duration) time.Duration {
	if next.IsZero() {
		return period
	}
	wait := next.Sub(now)
	if wait > period {
		return period
	}
	if wait <= 0 {
		return time.Millisecond
	}
	return wait
}

// createBackup creates the backup for run time due and records it as the
// schedule's last backup.
func (r *ScheduleReconciler) createBackup(ctx context.Context, log *slog.Logger, s *arkv1.Schedule, due, now time.Time) error {
	name := schedule.BackupName(s.Name, due)
	b := &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: s.Namespace,
			Name:      name,
		},
		Spec: *s.Spec.Template.DeepCopy(),
	}
	arkv1.SetScheduleName(b, s.Name)
	err := r.Client.Create(ctx, b)
	switch {
	case err == nil:
		log.Info("created the scheduled backup", "backup", name, "runTime", due.UTC().Format(time.RFC3339),
			"late", now.Sub(due).Round(time.Second).String())
	case apierrors.IsAlreadyExists(err):
		// Made before a crash or by an earlier pass that read a stale
		// schedule: this run time is done.
		log.Info("the backup for this run time already exists; not creating another", "backup", name)
	default:
		return fmt.Errorf("creating backup %s for schedule %s: %w", name, s.Name, err)
	}
	return r.patchStatus(ctx, s, func(s *arkv1.Schedule) {
		t := metav1.NewTime(due.UTC())
		s.Status.LastBackup = &t
	})
}

func (r *ScheduleReconciler) patchStatus(ctx context.Context, s *arkv1.Schedule, mutate func(*arkv1.Schedule)) error {
	err := patchStatus(ctx, r.Client, s, mutate)
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// SetupWithManager registers the reconciler.
func (r *ScheduleReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).Named("schedule").For(&arkv1.Schedule{}).Complete(r)
}
