package controller

import (
	"context"
	"fmt"
	"io"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/restoreplan"
	"github.com/heptio/ark/internal/settings"
)

// recorder is the spool of a dry run's plan as the engine's Recorder, or
// nil (a nil *Spool in the interface would not be).
func recorder(s *restoreplan.Spool) restoreplan.Recorder {
	if s == nil {
		return nil
	}
	return s
}

// storePlan uploads a dry run's plan beside the restore's results, streamed
// from its spool, so `ark restore describe` can show it.
func storePlan(ctx context.Context, env *settings.Environment, rs *arkv1.Restore, spool *restoreplan.Spool, sum *restoreplan.Summary) error {
	if sum == nil {
		return fmt.Errorf("the dry run of restore %s produced no plan", rs.Name)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(spool.WriteTo(pw, *sum)) }()
	if err := env.Store.PutRestorePlan(ctx, rs.Spec.BackupName, rs.Name, pr); err != nil {
		pr.CloseWithError(err)
		return fmt.Errorf("storing the plan of dry-run restore %s: %w", rs.Name, err)
	}
	return nil
}
