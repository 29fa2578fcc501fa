package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/archive"
	"github.com/heptio/ark/internal/cli/clientcfg"
	"github.com/heptio/ark/internal/cli/download"
	"github.com/heptio/ark/internal/cli/output"
	"github.com/heptio/ark/internal/verify"
)

type verifyOptions struct {
	file, metadata, sha256 string
	format                 string
	timeout                time.Duration
}

// verifyOutput is what `-o json` prints: the report, and what was verified.
type verifyOutput struct {
	Backup string `json:"backup,omitempty"`
	Source string `json:"source"`
	*verify.Report
}

// NewVerifyCommand is `ark backup verify`.
func NewVerifyCommand(f *clientcfg.Factory) *cobra.Command {
	o := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify NAME | verify --file PATH",
		Short: "Prove that a backup's archive is intact and would restore, without restoring it",
		Long: `Read a backup's archive from object storage (through a DownloadRequest) or a
local file, as a stream, and check:

  archive digest   the archive's SHA-256 and size are the ones the backup
                   recorded when it wrote it (status.archive)
  index            every item matches its SHA-256 and size in the archive's
                   index, and none is missing, added or stored twice
  objects          every item is a Kubernetes object whose apiVersion, kind,
                   namespace and name agree with its path in the archive
  resource counts  the items of each resource are as many as the backup
                   recorded (status.resourceCounts)

Nothing is extracted or restored. The command exits with a non-zero status,
naming the problem, when any check fails. With --file no cluster is needed;
give the backup's ark-backup.json with --metadata (or the digest with
--sha256) to check the archive against what its backup recorded. See
docs/verification.md for what each check proves, and what it does not.`,
		Example: `  ark backup verify nginx-backup
  ark backup verify nginx-backup -o json
  ark backup download nginx-backup -o nginx.tar.gz
  ark backup verify --file nginx.tar.gz --sha256 9f2c1e0d...`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd, f, args) },
	}
	fl := cmd.Flags()
	fl.StringVar(&o.file, "file", "", "verify this local archive (a .tar.gz) instead of a backup in object storage; needs no cluster")
	fl.StringVar(&o.metadata, "metadata", "", "with --file: the backup's ark-backup.json, whose status gives the digest and counts to check against")
	fl.StringVar(&o.sha256, "sha256", "", "with --file: the SHA-256 the archive must have (from 'ark backup describe')")
	fl.DurationVar(&o.timeout, "timeout", time.Minute, "how long to wait for the server to answer the download request")
	output.BindFlag(cmd, &o.format, "table", "table", "json")
	return cmd
}

func (o *verifyOptions) run(cmd *cobra.Command, f *clientcfg.Factory, args []string) error {
	if err := output.Validate(o.format, "table", "json"); err != nil {
		return err
	}
	switch {
	case o.file != "" && len(args) > 0:
		return fmt.Errorf("give either a backup NAME or --file PATH, not both")
	case o.file == "" && len(args) == 0:
		return fmt.Errorf("name the backup to verify (ark backup verify NAME), or a local archive with --file PATH")
	case o.file == "" && (o.metadata != "" || o.sha256 != ""):
		return fmt.Errorf("--metadata and --sha256 go with --file; a backup NAME is checked against its own status")
	}
	var out verifyOutput
	var rep *verify.Report
	var err error
	if o.file != "" {
		out.Source = o.file
		rep, out.Backup, err = o.verifyFile(cmd)
	} else {
		out.Backup = args[0]
		out.Source = "object storage, through a DownloadRequest"
		rep, err = o.verifyBackup(cmd, f, args[0])
	}
	if err != nil {
		return err
	}
	out.Report = rep
	w := cmd.OutOrStdout()
	if o.format == "json" {
		data, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(w, string(data))
	} else {
		printReport(w, &out)
	}
	if !rep.Verified {
		what := "the archive " + out.Source
		if out.Backup != "" {
			what = fmt.Sprintf("backup %q", out.Backup)
		}
		return fmt.Errorf("%s failed verification (%s): %s", what, rep.Reason, rep.Problem)
	}
	return nil
}

// verifyFile checks a local archive, against the metadata or digest given.
func (o *verifyOptions) verifyFile(cmd *cobra.Command) (*verify.Report, string, error) {
	var exp verify.Expected
	name := ""
	if o.metadata != "" {
		b, err := readMetadata(o.metadata)
		if err != nil {
			return nil, "", err
		}
		exp, name = verify.ExpectedOf(b), b.Name
	}
	if o.sha256 != "" {
		sum := strings.ToLower(strings.TrimSpace(o.sha256))
		if len(sum) != 64 || strings.Trim(sum, "0123456789abcdef") != "" {
			return nil, "", fmt.Errorf("--sha256 %q is not a SHA-256 digest (64 hexadecimal digits): copy it from 'ark backup describe NAME'", o.sha256)
		}
		if exp.SHA256 != "" && exp.SHA256 != sum {
			return nil, "", fmt.Errorf("--sha256 %s differs from the digest in --metadata %s (%s): give one of them", sum, o.metadata, exp.SHA256)
		}
		exp.SHA256 = sum
		if exp.Size == 0 {
			// Only the digest was given; the size follows from it.
			st, err := os.Stat(o.file)
			if err != nil {
				return nil, "", err
			}
			exp.Size = st.Size()
		}
	}
	file, err := os.Open(o.file)
	if err != nil {
		return nil, "", fmt.Errorf("opening the archive: %w", err)
	}
	defer file.Close()
	rep, err := verify.Archive(cmd.Context(), file, exp, archive.Limits{})
	if err != nil {
		return nil, "", fmt.Errorf("reading %s: %w", o.file, err)
	}
	return rep, name, nil
}

func readMetadata(path string) (*arkv1.Backup, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading --metadata: %w", err)
	}
	var b arkv1.Backup
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("--metadata %s is not a backup's ark-backup.json (a Backup object as JSON): %v", path, err)
	}
	if b.Name == "" || (b.Kind != "" && b.Kind != "Backup") {
		return nil, fmt.Errorf("--metadata %s is not a backup's ark-backup.json: it holds no Backup object with a name", path)
	}
	return &b, nil
}

// verifyBackup checks a backup's archive in object storage against its own
// status.
func (o *verifyOptions) verifyBackup(cmd *cobra.Command, f *clientcfg.Factory, name string) (*verify.Report, error) {
	c, err := f.Client()
	if err != nil {
		return nil, err
	}
	ns := f.ResolvedNamespace()
	var b arkv1.Backup
	if err := c.Get(cmd.Context(), client.ObjectKey{Namespace: ns, Name: name}, &b); err != nil {
		return nil, fmt.Errorf("backup %q: %w", name, err)
	}
	switch b.Status.Phase {
	case arkv1.BackupPhaseCompleted, arkv1.BackupPhasePartiallyFailed:
	default:
		return nil, fmt.Errorf("backup %q is %s: only a finished backup (Completed or PartiallyFailed) has an archive to verify", name, output.Or(string(b.Status.Phase), "New"))
	}
	rc, err := download.Open(cmd.Context(), c, ns, arkv1.DownloadTargetKindBackupContents, name, o.timeout)
	if errors.Is(err, download.ErrNotFound) {
		return verify.Missing(fmt.Sprintf("of backup %q", name)), nil
	}
	if err != nil {
		return nil, fmt.Errorf("backup %q: %w", name, err)
	}
	defer rc.Close()
	rep, err := verify.Archive(cmd.Context(), rc, verify.ExpectedOf(&b), archive.Limits{})
	if err != nil && !verify.IsSourceError(err) {
		return nil, err
	}
	return rep, nil
}

func printReport(w io.Writer, out *verifyOutput) {
	rep := out.Report
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	if out.Backup != "" {
		p("Backup:    %s", out.Backup)
	}
	p("Source:    %s", out.Source)
	if rep.Format != "" {
		index := "with an index"
		if !rep.Indexed {
			index = "without an index"
		}
		version := ""
		if rep.FormatVersion != "" {
			version = " format " + rep.FormatVersion
		}
		p("Format:    %s%s, %s", rep.Format, version, index)
	}
	if rep.SHA256 != "" {
		p("Archive:   %d bytes, sha256 %s", rep.Bytes, rep.SHA256)
	}
	contents := fmt.Sprintf("%s of %s in %s", plural(rep.Items, "item"), plural(rep.Resources, "resource"), plural(rep.Namespaces, "namespace"))
	if rep.VersionedItems > 0 {
		contents += fmt.Sprintf(", plus %d copies in version directories", rep.VersionedItems)
	}
	p("Contents:  %s", contents)
	p("")
	p("Checks:")
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, c := range rep.Checks {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", c.Name, strings.ToUpper(c.Result[:1])+c.Result[1:], c.Detail)
	}
	tw.Flush()
	if !rep.Verified {
		p("")
		p("Problems:")
		for _, pr := range rep.Problems {
			p("  - %s", pr)
		}
		return
	}
	p("")
	skipped := 0
	for _, c := range rep.Checks {
		if c.Result == verify.Skipped {
			skipped++
		}
	}
	if skipped > 0 {
		p("Verified, with %d checks skipped (see above): nothing found wrong.", skipped)
	} else {
		p("Verified: the archive is the one the backup wrote, and every item in it is intact.")
	}
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
