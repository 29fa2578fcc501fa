package backup

import (
	"strconv"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/cli/clientcfg"
	"github.com/heptio/ark/internal/cli/lookup"
	"github.com/heptio/ark/internal/cli/output"
)

// NewGetCommand is `ark backup get`.
func NewGetCommand(f *clientcfg.Factory) *cobra.Command {
	var selector, format string
	cmd := &cobra.Command{
		Use:   "get [NAME...]",
		Short: "List backups",
		Example: `  ark backup get
  ark backup get nginx-backup -o yaml
  ark backup get -l ark-schedule=daily`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.Validate(format, "table", "json", "yaml"); err != nil {
				return err
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			list, err := List(cmd, c, f.ResolvedNamespace(), selector, args)
			if err != nil {
				return err
			}
			if format != "table" {
				if len(args) == 1 && len(list.Items) == 1 {
					return output.Object(cmd.OutOrStdout(), format, &list.Items[0])
				}
				return output.Object(cmd.OutOrStdout(), format, list)
			}
			var rows [][]string
			for _, b := range list.Items {
				expires := "<n/a>"
				if b.Status.Expiration != nil {
					expires = output.HumanDuration(b.Status.Expiration.Sub(b.CreationTimestamp.Time)) + " after creation"
					if left := b.Status.Expiration.Sub(nowFunc()); left > 0 {
						expires = output.HumanDuration(left)
					} else {
						expires = "expired"
					}
				}
				items := "-"
				if b.Status.Progress != nil {
					items = strconv.Itoa(b.Status.Progress.ItemsBackedUp)
				}
				rows = append(rows, []string{b.Name, output.Or(string(b.Status.Phase), "New"), items,
					strconv.Itoa(b.Status.Errors), strconv.Itoa(b.Status.Warnings), verifiedColumn(&b),
					output.Age(b.CreationTimestamp), expires, selectorString(b.Spec)})
			}
			return output.Table(cmd.OutOrStdout(), []string{"NAME", "STATUS", "ITEMS", "ERRORS", "WARNINGS", "VERIFIED", "AGE", "EXPIRES", "SELECTOR"}, rows)
		},
	}
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "only backups whose labels match")
	output.BindFlag(cmd, &format, "table", "table", "json", "yaml")
	return cmd
}

// List returns the named backups (all of them, or those matching selector,
// when names is empty), sorted.
func List(cmd *cobra.Command, c client.Client, ns, selector string, names []string) (*arkv1.BackupList, error) {
	list := &arkv1.BackupList{}
	if err := lookup.Fetch(cmd.Context(), c, list, &list.Items, "backup", ns, selector, names); err != nil {
		return nil, err
	}
	return list, nil
}

func selectorString(s arkv1.BackupSpec) string {
	if s.LabelSelector == nil {
		return "<none>"
	}
	sel, err := metav1.LabelSelectorAsSelector(s.LabelSelector)
	if err != nil {
		return "<invalid>"
	}
	return sel.String()
}

// verifiedColumn is the Verified condition in a word: "yes" with how long
// ago, the reason of a failure, or "-" when never verified.
func verifiedColumn(b *arkv1.Backup) string {
	c := meta.FindStatusCondition(b.Status.Conditions, arkv1.BackupConditionVerified)
	if c == nil {
		return "-"
	}
	ago := ""
	if last := b.Status.LastVerified; last != nil {
		ago = " (" + output.Age(*last) + " ago)"
	}
	switch c.Status {
	case metav1.ConditionTrue:
		return "yes" + ago
	case metav1.ConditionFalse:
		return "NO: " + c.Reason + ago
	}
	return "unknown" + ago
}
