package controller

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/objectstore/memstore"
	"github.com/heptio/ark/internal/settings"
)

func TestConfigReconciler(t *testing.T) {
	e := newReconcilerEnv(t)
	ctx := context.Background()
	var logs bytes.Buffer
	current := memSettings(memstore.New("ark"), nil)
	r := &ConfigReconciler{Client: e.client, Namespace: e.namespace, Settings: current, Log: slog.New(slog.NewTextHandler(&logs, nil))}
	req := e.key(arkv1.DefaultConfigName)

	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if _, err := current.Config(); err != settings.ErrNoConfig {
		t.Fatalf("without a Config object: %v, want ErrNoConfig", err)
	}

	cfg := &arkv1.Config{ObjectMeta: metav1.ObjectMeta{Namespace: e.namespace, Name: arkv1.DefaultConfigName},
		BackupStorageProvider: arkv1.ObjectStorageProviderConfig{CloudProviderConfig: arkv1.CloudProviderConfig{Name: "memory"}, Bucket: "ark"}}
	if err := e.client.Create(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if env, err := current.Environment(); err != nil || env.Store.Bucket() != "ark" {
		t.Fatalf("after loading: %v, %v", env, err)
	}

	cfg.BackupStorageProvider.Bucket = ""
	if err := e.client.Update(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if _, err := current.Environment(); !settings.IsInvalidConfig(err) || !strings.Contains(err.Error(), "kubectl -n "+e.namespace+" edit config default") {
		t.Fatalf("an invalid Config gives %v, want an InvalidConfigError naming the fix", err)
	}
	if !strings.Contains(logs.String(), "Config is invalid") {
		t.Errorf("the server log does not say the Config is invalid:\n%s", logs.String())
	}

	if err := e.client.Delete(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if got, err := current.Config(); err != nil || got.Name != arkv1.DefaultConfigName {
		t.Fatalf("a deleted Config must leave the last one loaded: %v, %v", got, err)
	}
}
