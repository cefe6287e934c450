package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/spf13/cobra"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/secrets"
	"github.com/capiform/capiform/tools/source"
)

func init() { extraCommands = append(extraCommands, newSecretsCommand) }

// AgeKeyFileEnv names the age identity file when --age-key-file is not
// given, as for the sops command.
const AgeKeyFileEnv = "SOPS_AGE_KEY_FILE"

type secretsFlags struct {
	clusters  []string
	name      string
	clouds    string
	cacert    string
	fromFiles []string
	keyFile   string
	copyFrom  string
}

func newSecretsCommand(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Create, re-encrypt, rotate and check the SOPS-encrypted Secrets of a site",
		Long: `secrets manages the Secrets clusters need (the cloud credentials, registry
credentials, the deploy key), kept in git under clusters/<site>/secrets/<cluster>/
encrypted with SOPS for the site's spec.secrets.ageRecipients. render delivers
them into each cluster's namespace, where kustomize-controller decrypts them
with the site's age key (the sops-age Secret that bootstrap puts in flux-system).

These commands run on an operator's machine, never in CI. create encrypts
for the recipients and needs no key; updatekeys, rotate without --clouds and
check read the age identity from --age-key-file or $SOPS_AGE_KEY_FILE.
No command prints a value, not even in an error.`,
		Example: `  capiform secrets create lon --clouds ~/clouds.yaml
  capiform secrets create lon --cluster research --clouds - < clouds.yaml
  capiform secrets create lon --name flux-system --from-file identity=./deploy-key --from-file known_hosts=./known_hosts
  capiform secrets updatekeys lon --age-key-file ~/.config/sops/age/keys.txt
  capiform secrets rotate lon --clouds ~/new-clouds.yaml
  capiform secrets check lon`,
	}
	cmd.AddCommand(newSecretsCreateCommand(s), newSecretsRotateCommand(s), newSecretsUpdateKeysCommand(s), newSecretsCheckCommand(s))
	return cmd
}

func newSecretsCreateCommand(s Streams) *cobra.Command {
	var f secretsFlags
	cmd := &cobra.Command{
		Use:   "create SITE [--cluster NAME]... (--clouds FILE|- | --name NAME --from-file KEY=FILE...)",
		Short: "Encrypt a Secret for the site's recipients, into every cluster's namespace",
		Long: `create encrypts a Secret once per cluster namespace (the MAC of a SOPS file
covers its namespace, so one file cannot serve two namespaces). With --clouds it
is the site's cloud credentials (spec.cloud.credentialsSecret): key clouds.yaml,
and key cloud.conf derived from the clouds.yaml entry of spec.cloud.cloudName.
Without --cluster it writes every cluster that has no such Secret yet; it never
writes over a file (see rotate).`,
		Example: `  capiform secrets create lon --clouds ~/clouds.yaml
  capiform secrets create lon --cluster research --clouds -
  capiform secrets create lon --clouds ~/clouds.yaml --cacert ~/cloud-ca.pem
  capiform secrets create lon --cluster newcluster --copy-from research --age-key-file ~/.config/sops/age/keys.txt
  capiform secrets create lon --cluster flux-system --name webhook-token --from-file token=./webhook-token`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return secretsCreate(cmd, s, args[0], f, false)
		},
	}
	addCreateFlags(cmd, &f)
	return cmd
}

func addCreateFlags(cmd *cobra.Command, f *secretsFlags) {
	cmd.Flags().StringSliceVar(&f.clusters, "cluster", nil, "only these clusters (default: every cluster of the site); flux-system is the site's own folder (the git host tokens)")
	cmd.Flags().StringVar(&f.clouds, "clouds", "", "clouds.yaml for the cloud credentials; - reads standard input")
	cmd.Flags().StringVar(&f.cacert, "cacert", "", "with --clouds: the cloud's CA bundle (PEM), key cacert of the credentials, for a site with spec.cloud.privateCA, where it is required (give it again to rotate --clouds)")
	cmd.Flags().StringVar(&f.name, "name", "", "the Secret's name (default: the site's spec.cloud.credentialsSecret)")
	cmd.Flags().StringArrayVar(&f.fromFiles, "from-file", nil, "KEY=FILE: a key of a Secret other than the cloud credentials")
	cmd.Flags().StringVar(&f.copyFrom, "copy-from", "", "CLUSTER: decrypt that cluster's Secret (with the age key) and encrypt it for the new clusters")
	if cmd.Flags().Lookup("age-key-file") == nil {
		cmd.Flags().StringVar(&f.keyFile, "age-key-file", "", "the age identity file, for --copy-from (default: $"+AgeKeyFileEnv+")")
	}
}

func secretsCreate(cmd *cobra.Command, s Streams, siteName string, f secretsFlags, replace bool) error {
	root := rootDir(cmd)
	fsys := source.Worktree(root)
	site, err := loadOneSite(fsys, siteName)
	if err != nil {
		return err
	}
	opts := secrets.CreateOptions{FS: fsys, Site: site, Clusters: f.clusters, Name: f.name, Replace: replace}
	if f.clouds != "" {
		if opts.CloudsYAML, err = readInput(s, f.clouds); err != nil {
			return err
		}
	}
	if f.cacert != "" {
		if f.clouds == "" {
			return &exitError{code: ExitCantRun, msg: "--cacert goes with --clouds: the CA bundle is a key of the cloud credentials"}
		}
		if opts.CACert, err = readInput(s, f.cacert); err != nil {
			return err
		}
	}
	if f.copyFrom != "" {
		opts.CopyFrom = f.copyFrom
		if opts.Identities, err = identities(f.keyFile); err != nil {
			return err
		}
	}
	if len(f.fromFiles) > 0 {
		opts.Data = map[string][]byte{}
		for _, kv := range f.fromFiles {
			k, file, ok := strings.Cut(kv, "=")
			if !ok || k == "" || file == "" {
				return &exitError{code: ExitCantRun, msg: fmt.Sprintf("--from-file %q: give KEY=FILE", kv)}
			}
			if opts.Data[k], err = readInput(s, file); err != nil {
				return err
			}
		}
	}
	files, err := secrets.Create(opts)
	if err != nil {
		return &exitError{code: ExitFailed, msg: err.Error()}
	}
	return writeSecrets(s, root, files)
}

func newSecretsRotateCommand(s Streams) *cobra.Command {
	var f secretsFlags
	cmd := &cobra.Command{
		Use:   "rotate SITE [--clouds FILE|-] [--name NAME] [--age-key-file FILE]",
		Short: "Replace a credential, or encrypt every file again under a new data key",
		Long: `rotate with --clouds (or --from-file) replaces the credential in every cluster's
file (or those of --cluster): after the cloud's application credential was
rotated, say. Without them it decrypts every file of the site (or of --name)
with the age identity, checks its MAC, and encrypts it again under a new data
key for the site's recipients: after a recipient was removed, as updatekeys
does not change the data key that recipient may have kept.`,
		Example: `  capiform secrets rotate lon --clouds ~/new-clouds.yaml
  capiform secrets rotate lon --age-key-file ~/.config/sops/age/keys.txt`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.clouds != "" || len(f.fromFiles) > 0 {
				return secretsCreate(cmd, s, args[0], f, true)
			}
			return secretsRekey(cmd, s, args[0], f, secrets.Rotate)
		},
	}
	cmd.Flags().StringVar(&f.keyFile, "age-key-file", "", "the age identity file (default: $"+AgeKeyFileEnv+")")
	addCreateFlags(cmd, &f)
	return cmd
}

func newSecretsUpdateKeysCommand(s Streams) *cobra.Command {
	var f secretsFlags
	cmd := &cobra.Command{
		Use:   "updatekeys SITE [--age-key-file FILE]",
		Short: "Encrypt the data key of every file for exactly the site's recipients",
		Long: `updatekeys makes every encrypted file of the site readable by exactly the age
recipients in the site's spec.secrets.ageRecipients, after they changed. It
opens each file's data key with the age identity; values, their ciphertext and
the MAC stay as they are. After removing a recipient, also run rotate.`,
		Example: `  capiform secrets updatekeys lon --age-key-file ~/.config/sops/age/keys.txt`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return secretsRekey(cmd, s, args[0], f, secrets.UpdateKeys)
		},
	}
	cmd.Flags().StringVar(&f.name, "name", "", "only the Secrets of this name")
	cmd.Flags().StringVar(&f.keyFile, "age-key-file", "", "the age identity file (default: $"+AgeKeyFileEnv+")")
	return cmd
}

func secretsRekey(cmd *cobra.Command, s Streams, siteName string, f secretsFlags, op func(secrets.RekeyOptions) (secrets.Files, error)) error {
	root := rootDir(cmd)
	fsys := source.Worktree(root)
	site, err := loadOneSite(fsys, siteName)
	if err != nil {
		return err
	}
	ids, err := identities(f.keyFile)
	if err != nil {
		return err
	}
	files, err := op(secrets.RekeyOptions{FS: fsys, Site: site, Identities: ids, Name: f.name})
	if err != nil {
		return &exitError{code: ExitFailed, msg: err.Error()}
	}
	if len(files) == 0 {
		fmt.Fprintln(s.Err, "nothing to change")
		return nil
	}
	return writeSecrets(s, root, files)
}

func newSecretsCheckCommand(s Streams) *cobra.Command {
	var f secretsFlags
	cmd := &cobra.Command{
		Use:   "check [SITE]... [--age-key-file FILE]",
		Short: "Verify every encrypted file with the age key: MAC, recipients, content",
		Long: `check does what validate does for encrypted Secrets (layout, recipients,
ciphertext form), and what only the key can: it decrypts every file and
verifies its MAC (a value or the clear name and namespace changed after
encryption), and that each cloud credentials Secret's cloud.conf is what its
clouds.yaml derives to. It prints each file it checked and every problem,
never a value. Without SITE, every site that has spec.secrets.`,
		Example: `  capiform secrets check
  SOPS_AGE_KEY_FILE=~/.config/sops/age/keys.txt capiform secrets check lon`,
		RunE: func(cmd *cobra.Command, args []string) error {
			fsys := source.Worktree(rootDir(cmd))
			fleet, err := load.LoadSites(fsys, namesOrNil(args))
			var dl diag.List
			if err != nil && (!errors.As(err, &dl) || fleet == nil) {
				return err
			}
			ids, err := identities(f.keyFile)
			if err != nil {
				return err
			}
			var problems diag.List
			checked := 0
			for _, site := range fleet.Sites {
				if site.Spec.Secrets == nil {
					continue
				}
				res, err := secrets.Check(secrets.CheckOptions{FS: fsys, Site: site, Identities: ids})
				if err != nil {
					return err
				}
				for _, p := range res.Checked {
					fmt.Fprintf(s.Out, "checked %s\n", diag.Inline(p))
				}
				checked += len(res.Checked)
				problems = append(problems, res.Problems...)
			}
			if len(problems) > 0 {
				return problems.Sorted()
			}
			fmt.Fprintf(s.Err, "ok: %d encrypted file(s)\n", checked)
			return nil
		},
	}
	cmd.Flags().StringVar(&f.keyFile, "age-key-file", "", "the age identity file (default: $"+AgeKeyFileEnv+")")
	return cmd
}

func namesOrNil(args []string) []string {
	if len(args) == 0 {
		return nil
	}
	return args
}

// loadOneSite loads a site's definitions; problems of its definitions
// that do not stop it from loading are left to validate.
func loadOneSite(fsys fs.FS, name string) (*load.Site, error) {
	fleet, err := load.LoadSites(fsys, []string{name})
	var dl diag.List
	if err != nil && (!errors.As(err, &dl) || fleet == nil) {
		return nil, err
	}
	site := fleet.Site(name)
	if site == nil {
		if len(dl) > 0 {
			return nil, dl
		}
		return nil, &exitError{code: ExitFailed, msg: fmt.Sprintf("no site %q under %s/", name, load.ClustersDir)}
	}
	return site, nil
}

// identities reads the age identity file.
func identities(file string) (secrets.Identities, error) {
	if file == "" {
		file = os.Getenv(AgeKeyFileEnv)
	}
	if file == "" {
		return nil, &exitError{code: ExitCantRun, msg: "no age key: give --age-key-file or set " + AgeKeyFileEnv}
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, &exitError{code: ExitCantRun, msg: fmt.Sprintf("age key: %v", err)}
	}
	defer f.Close()
	ids, err := secrets.ParseIdentities(f)
	if err != nil {
		return nil, &exitError{code: ExitCantRun, msg: fmt.Sprintf("age key %s: %v", file, err)}
	}
	return ids, nil
}

// readInput reads a file, or standard input for "-". Its errors name the
// file, never its content.
func readInput(s Streams, file string) ([]byte, error) {
	if file == "-" {
		b, err := io.ReadAll(s.In)
		if err != nil {
			return nil, &exitError{code: ExitCantRun, msg: "reading standard input failed"}
		}
		return b, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, &exitError{code: ExitCantRun, msg: fmt.Sprintf("reading %s failed: %v", file, errors.Unwrap(err))}
	}
	return b, nil
}

// writeSecrets writes the files inside the repository, each through a
// temporary file and a rename, so that a file is old or new, never half.
func writeSecrets(s Streams, root string, files secrets.Files) error {
	r, err := os.OpenRoot(root)
	if err != nil {
		return err
	}
	defer r.Close()
	for _, p := range files.Paths() {
		if err := r.MkdirAll(path.Dir(p), 0o755); err != nil {
			return err
		}
		tmp := path.Join(path.Dir(p), "."+path.Base(p)+".tmp")
		if err := r.WriteFile(tmp, files[p], 0o644); err != nil {
			return err
		}
		if err := r.Rename(tmp, p); err != nil {
			_ = r.Remove(tmp)
			return err
		}
		fmt.Fprintf(s.Err, "wrote %s\n", diag.Inline(p))
	}
	return nil
}
