package schedule

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/cli/clientcfg"
	"github.com/heptio/ark/internal/cli/output"
)

// NewGetCommand is `ark schedule get`.
func NewGetCommand(f *clientcfg.Factory) *cobra.Command {
	var selector, format string
	cmd := &cobra.Command{
		Use:   "get [NAME...]",
		Short: "List schedules",
		Example: `  ark schedule get
  ark schedule get full -o yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.Validate(format, "table", "json", "yaml"); err != nil {
				return err
			}
			_, l, err := list(cmd, f, selector, args)
			if err != nil {
				return err
			}
			if format != "table" {
				if len(args) == 1 && len(l.Items) == 1 {
					return output.Object(cmd.OutOrStdout(), format, &l.Items[0])
				}
				for i := range l.Items {
					l.Items[i].APIVersion, l.Items[i].Kind = arkv1.SchemeGroupVersion.String(), "Schedule"
				}
				return output.Object(cmd.OutOrStdout(), format, l)
			}
			var rows [][]string
			for _, s := range l.Items {
				last := "n/a"
				if s.Status.LastBackup != nil {
					last = output.Age(*s.Status.LastBackup) + " ago"
				}
				rows = append(rows, []string{s.Name, output.Or(string(s.Status.Phase), "New"),
					s.CreationTimestamp.UTC().Format("2006-01-02 15:04:05 -0700 MST"), s.Spec.Schedule,
					ttlString(s.Spec.Template.TTL.Duration), last, templateSelector(s.Spec.Template), fmt.Sprint(s.Spec.Paused)})
			}
			return output.Table(cmd.OutOrStdout(), []string{"NAME", "STATUS", "CREATED", "SCHEDULE", "BACKUP TTL", "LAST BACKUP", "SELECTOR", "PAUSED"}, rows)
		},
	}
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "only schedules whose labels match")
	output.BindFlag(cmd, &format, "table", "table", "json", "yaml")
	return cmd
}

// templateSelector shows a backup template's label selector or OR terms.
func templateSelector(t arkv1.BackupSpec) string {
	if len(t.OrLabelSelectors) > 0 && t.LabelSelector == nil {
		var terms []string
		for _, s := range t.OrLabelSelectors {
			terms = append(terms, selectorString(s))
		}
		return strings.Join(terms, " or ")
	}
	return selectorString(t.LabelSelector)
}

func ttlString(ttl time.Duration) string {
	if ttl == 0 {
		return "<server default>"
	}
	return ttl.String()
}

func selectorString(s *metav1.LabelSelector) string {
	if s == nil {
		return "<none>"
	}
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return "<invalid>"
	}
	return sel.String()
}
