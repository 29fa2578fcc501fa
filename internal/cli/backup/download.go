package backup

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/cli/clientcfg"
	"github.com/heptio/ark/internal/cli/download"
	"github.com/heptio/ark/internal/cli/flags"
)

// NewDownloadCommand is `ark backup download`.
func NewDownloadCommand(f *clientcfg.Factory) *cobra.Command {
	var out, keyFile string
	var force, raw bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "download NAME",
		Short: "Download a backup's archive (the tar.gz of its objects)",
		Long: `Download a backup's archive through a signed URL the server makes.

An encrypted backup (docs/encryption.md) comes down encrypted and is
decrypted here, on the client: with the age identities of --key-file, else
with the encryption Secret the Config names, read with your own access to
the cluster. --raw saves the file as stored (encrypted, NAME-data.tar.gz.age),
for 'age -d -i key.txt' or for safekeeping.`,
		Example: `  ark backup download nginx-backup                 # writes nginx-backup-data.tar.gz
  ark backup download nginx-backup -o /tmp/b.tar.gz
  ark backup download nginx-backup --key-file key.txt
  ark backup download nginx-backup --raw           # encrypted as stored`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if raw && keyFile != "" {
				return fmt.Errorf("--raw saves the file encrypted, --key-file decrypts it: give one of them")
			}
			flag := os.O_WRONLY | os.O_CREATE | os.O_EXCL
			if force {
				flag = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			ns := f.ResolvedNamespace()
			var b arkv1.Backup
			recipient := ""
			if err := c.Get(cmd.Context(), client.ObjectKey{Namespace: ns, Name: name}, &b); err == nil && b.Status.Encryption != nil {
				recipient = b.Status.Encryption.Recipient
			}
			rc, err := download.Open(cmd.Context(), c, ns, arkv1.DownloadTargetKindBackupContents, name, timeout)
			if err != nil {
				return fmt.Errorf("backup %q: %w", name, err)
			}
			defer rc.Close()
			var body io.Reader = rc
			if !raw {
				body, err = download.Decrypting(cmd.Context(), rc, download.Keys{File: keyFile, Client: c, Namespace: ns}, recipient)
				if err != nil {
					return fmt.Errorf("backup %q: %w (or --raw to save it encrypted)", name, err)
				}
			}
			if out == "" {
				out = name + "-data.tar.gz"
				if raw && recipient != "" {
					out += ".age"
				}
			}
			// The archive holds every Secret of the backup: private to
			// the user who downloaded it.
			file, err := os.OpenFile(out, flag, 0o600)
			if os.IsExist(err) {
				return fmt.Errorf("%s already exists: pass --force to overwrite it, or -o another path", out)
			}
			if err != nil {
				return err
			}
			n, err := io.Copy(file, body)
			if cerr := file.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(out)
				return fmt.Errorf("downloading backup %q: %w", name, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Backup %s has been downloaded to %s (%d bytes).\n", name, out, n)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write (default NAME-data.tar.gz)")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite the output file if it exists")
	cmd.Flags().StringVar(&keyFile, "key-file", "", "age identities file that decrypts an encrypted backup (default: the Config's encryption Secret)")
	cmd.Flags().BoolVar(&raw, "raw", false, "save the archive as stored, encrypted if the backup is")
	timeout = time.Minute
	cmd.Flags().Var(flags.Duration{D: &timeout}, "timeout", "how long to wait for the server to answer")
	return cmd
}
