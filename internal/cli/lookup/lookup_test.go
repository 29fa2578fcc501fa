package lookup

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	arkv1 "github.com/heptio/ark/api/v1"
)

func TestFetch(t *testing.T) {
	s := runtime.NewScheme()
	_ = arkv1.AddToScheme(s)
	b := func(name string, labels map[string]string) *arkv1.Backup {
		return &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: labels}}
	}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(
		b("c", map[string]string{"ark-schedule": "daily"}), b("a", map[string]string{"ark-schedule": "daily"}), b("b", nil),
	).Build()
	names := func(l *arkv1.BackupList) string {
		var n []string
		for _, i := range l.Items {
			n = append(n, i.Name)
		}
		return strings.Join(n, ",")
	}
	ctx := context.Background()

	all := &arkv1.BackupList{}
	if err := Fetch(ctx, c, all, &all.Items, "backup", "ns", "", nil); err != nil || names(all) != "a,b,c" {
		t.Fatalf("all: %q %v", names(all), err)
	}
	sel := &arkv1.BackupList{}
	if err := Fetch(ctx, c, sel, &sel.Items, "backup", "ns", "ark-schedule=daily", nil); err != nil || names(sel) != "a,c" {
		t.Fatalf("selector: %q %v", names(sel), err)
	}
	named := &arkv1.BackupList{}
	if err := Fetch(ctx, c, named, &named.Items, "backup", "ns", "", []string{"b", "a"}); err != nil || names(named) != "b,a" {
		t.Fatalf("named keep their order: %q %v", names(named), err)
	}
	missing := &arkv1.BackupList{}
	err := Fetch(ctx, c, missing, &missing.Items, "backup", "ns", "", []string{"nope"})
	if err == nil || !strings.Contains(err.Error(), `backup "nope"`) {
		t.Fatalf("a missing name must be named: %v", err)
	}
}
