package controller

import (
	"context"
	"log/slog"
	"time"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/settings"
)

// settingsPoll bounds how long a periodic task goes without re-reading the
// Settings, so a new period or a new Config takes effect within it.
const settingsPoll = 5 * time.Second

// periodic runs a task once a Config is loaded, then every period of the
// current Config. The period is read from the Settings on every turn, and a
// changed Config (another bucket, restore-only mode switched) runs the task
// at once, so Config changes take effect without a restart. A Config that
// cannot be used (invalid, or its credentials refused) pauses the task; the
// Config reconciler logs why.
type periodic struct {
	name     string
	settings *settings.Settings
	period   func(*arkv1.Config) time.Duration
	task     func(context.Context, *settings.Environment)
	log      *slog.Logger
}

func (p *periodic) run(ctx context.Context) error {
	var last time.Time
	var lastConfig string
	for {
		wait := min(settingsPoll, settings.MinPeriod)
		// The period comes from the Config alone; the stores are built (which
		// reads credentials) only when the task is due.
		if cfg, err := p.settings.Config(); err == nil {
			period := p.period(cfg)
			// Every update of the Config object gets a new resourceVersion;
			// one recreated after its namespace was deleted, a new UID.
			config := string(cfg.UID) + "/" + cfg.ResourceVersion
			if config != lastConfig || time.Since(last) >= period {
				// A Config whose stores cannot be built is tried again at the
				// next poll, not a whole period later.
				if env, err := p.settings.Environment(); err == nil {
					p.log.Debug("periodic task starting", "task", p.name, "period", period.String())
					p.task(ctx, env)
					last, lastConfig = time.Now(), config
				}
			}
			if left := period - time.Since(last); left > 0 && left < wait {
				wait = left
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}
