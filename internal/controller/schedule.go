package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
)

// ScheduleReconciler validates Schedules and creates their backups when due.
//
// Each run time gets exactly one backup, named after the run time, so the
// name itself is the guard against duplicates: a second attempt for the same
// time (after a crash, or from a stale cache) gets AlreadyExists and only
// records what was done. Run times missed while the server was down collapse
// into one catch-up backup for the most recent of them (see dueTime).
type ScheduleReconciler struct {
	Client   client.Client
	Settings *Settings
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
	env, err := r.Settings.Current()
	if errors.Is(err, ErrNoConfig) {
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	}
	if err != nil {
		// Without a usable Config the server cannot tell whether it is in
		// restore-only mode, so it makes no backups yet; once the Config is
		// fixed, the schedule makes one catch-up backup.
		log.Warn("schedule waits for a usable Config", "error", err)
		return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
	}
	if env.Config.RestoreOnlyMode {
		if !r.restoreOnlyLogged.Swap(true) {
			r.Log.Info("restore-only mode (Config restoreOnlyMode: true): schedules are left alone and create no backups until it is turned off")
		}
		log.Debug("schedule left alone: restore-only mode")
		return ctrl.Result{RequeueAfter: env.ScheduleSyncPeriod()}, nil
	}
	r.restoreOnlyLogged.Store(false)

	sched, problems := validateSchedule(&s)
	if len(problems) > 0 {
		if s.Status.Phase != arkv1.SchedulePhaseFailedValidation || !slices.Equal(s.Status.ValidationErrors, problems) {
			log.Info("schedule failed validation", "errors", problems)
		}
		return ctrl.Result{}, r.patchStatus(ctx, &s, func(st *arkv1.ScheduleStatus) {
			st.Phase = arkv1.SchedulePhaseFailedValidation
			st.ValidationErrors = problems
		})
	}
	if s.Status.Phase != arkv1.SchedulePhaseEnabled {
		if err := r.patchStatus(ctx, &s, func(st *arkv1.ScheduleStatus) {
			st.Phase = arkv1.SchedulePhaseEnabled
			st.ValidationErrors = nil
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
	due, ok, next := dueTime(sched, after, now)
	if ok {
		if err := r.createBackup(ctx, log, &s, due, now); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{RequeueAfter: requeueDelay(now, next, env.ScheduleSyncPeriod())}, nil
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
	name := scheduledBackupName(s.Name, due)
	b := &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: s.Namespace,
			Name:      name,
			Labels:    map[string]string{arkv1.ScheduleNameLabel: s.Name},
		},
		Spec: *s.Spec.Template.DeepCopy(),
	}
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
	return r.patchStatus(ctx, s, func(st *arkv1.ScheduleStatus) {
		t := metav1.NewTime(due.UTC())
		st.LastBackup = &t
	})
}

// validateSchedule parses the cron expression and checks what every backup
// of the schedule would need.
func validateSchedule(s *arkv1.Schedule) (cron.Schedule, []string) {
	var problems []string
	sched, err := ParseSchedule(s.Spec.Schedule)
	if err != nil {
		problems = append(problems, err.Error())
	}
	if errs := validation.IsValidLabelValue(s.Name); len(errs) > 0 {
		problems = append(problems, fmt.Sprintf("the schedule's name %q cannot be the value of the %s label its backups carry (%s): use a name of at most 63 characters", s.Name, arkv1.ScheduleNameLabel, errs[0]))
	}
	if sel := s.Spec.Template.LabelSelector; sel != nil {
		if _, err := metav1.LabelSelectorAsSelector(sel); err != nil {
			problems = append(problems, fmt.Sprintf("template.labelSelector is invalid: %v", err))
		}
	}
	if s.Spec.Template.TTL.Duration < 0 {
		problems = append(problems, fmt.Sprintf("template.ttl %s is negative: give a positive duration such as 720h", s.Spec.Template.TTL.Duration))
	}
	return sched, problems
}

func (r *ScheduleReconciler) patchStatus(ctx context.Context, s *arkv1.Schedule, mutate func(*arkv1.ScheduleStatus)) error {
	orig := s.DeepCopy()
	mutate(&s.Status)
	err := r.Client.Status().Patch(ctx, s, client.MergeFrom(orig))
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// SetupWithManager registers the reconciler.
func (r *ScheduleReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).Named("schedule").For(&arkv1.Schedule{}).Complete(r)
}
