// Package output prints Ark's objects as a table, JSON or YAML, the same way
// for every `get`, and renders timestamps and durations for people.
package output

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	arkv1 "github.com/heptio/ark/api/v1"
)

// BindFlag adds -o/--output with the formats a command supports.
func BindFlag(cmd *cobra.Command, target *string, def string, formats ...string) {
	cmd.Flags().StringVarP(target, "output", "o", def, "output format: "+strings.Join(formats, "|"))
}

// Validate rejects an unknown format with the list of known ones.
func Validate(format string, formats ...string) error {
	for _, f := range formats {
		if f == format {
			return nil
		}
	}
	return fmt.Errorf("unknown output format %q: use one of %s", format, strings.Join(formats, ", "))
}

// Object prints obj as JSON or YAML with its apiVersion and kind set.
func Object(w io.Writer, format string, obj runtime.Object) error {
	setTypeMeta(obj)
	switch format {
	case "json":
		data, err := json.MarshalIndent(obj, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(data))
		return err
	case "yaml":
		data, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	return fmt.Errorf("unknown output format %q", format)
}

// setTypeMeta fills apiVersion and kind, which typed clients leave empty.
func setTypeMeta(obj runtime.Object) {
	kind := fmt.Sprintf("%T", obj)
	kind = kind[strings.LastIndex(kind, ".")+1:]
	gvk := arkv1.SchemeGroupVersion.WithKind(kind)
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	if list, ok := obj.(interface{ GetItems() []runtime.Object }); ok {
		for _, o := range list.GetItems() {
			setTypeMeta(o)
		}
	}
}

// Table writes rows under headers, aligned.
func Table(w io.Writer, headers []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(headers, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// Age renders how long ago t was, like kubectl.
func Age(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return HumanDuration(time.Since(t.Time))
}

// HumanDuration renders d compactly (45s, 3m, 5h, 12d).
func HumanDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// Timestamp renders an optional time, or "<n/a>".
func Timestamp(t *metav1.Time) string {
	if t == nil || t.IsZero() {
		return "<n/a>"
	}
	return t.UTC().Format(time.RFC3339)
}

// Or returns s, or def when s is empty.
func Or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// List joins names, or "*" for an empty include list.
func List(items []string, empty string) string {
	if len(items) == 0 {
		return empty
	}
	return strings.Join(items, ", ")
}
