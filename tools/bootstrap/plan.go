package bootstrap

import (
	"context"
	"errors"
	"fmt"
)

// Step names, in order. They are stable: StopAfter and the docs use them.
const (
	StepEphemeral          = "ephemeral"
	StepProvidersEphemeral = "providers-ephemeral"
	StepClusterChart       = "cluster-chart"
	StepBasePlatform       = "base-platform"
	StepWaitReady          = "wait-ready"
	StepProvidersTarget    = "providers-target"
	StepPreflight          = "preflight"
	StepLabelForMove       = "label-for-move"
	StepMove               = "move"
	StepFlux               = "flux"
	StepVerify             = "verify"
	StepCleanup            = "cleanup"
)

// Step is one idempotent stage of the pivot.
type Step struct {
	// Name is the step's stable name.
	Name string
	// Description says what the step does with this site's inputs.
	Description string

	run func(ctx context.Context, r *runner) error
}

// ErrStopped is returned by Run when Options.StopAfter stopped it.
var ErrStopped = errors.New("stopped as requested")

// Plan returns the ordered steps Run takes for these options; it touches no
// cluster, so it is what --dry-run prints.
func Plan(opts Options) []Step {
	ephemeral := fmt.Sprintf("create the kind cluster %q", opts.ephemeralName())
	if opts.EphemeralKubeconfig != "" || opts.InjectEphemeral != nil {
		ephemeral = "use the existing cluster of the given kubeconfig"
	}
	id := identityOf(opts)
	repo := "clusterctl's default repositories"
	if opts.ProviderRepository != "" {
		repo = "the local provider repository " + opts.ProviderRepository
	}
	providers := fmt.Sprintf("cluster-api %s, kubeadm bootstrap %s, kubeadm control plane %s, openstack %s from %s",
		opts.Providers.Core, opts.Providers.Bootstrap, opts.Providers.ControlPlane, opts.Providers.Infrastructure, repo)
	if len(opts.SyncMachineLabels) > 0 {
		providers += fmt.Sprintf(", then set the core controller's %s=%s (spec.syncMachineLabels)", SyncMachineLabelsFlag, syncMachineLabelsValue(opts.SyncMachineLabels))
	}
	var addons []string
	for _, a := range opts.BasePlatform {
		addons = append(addons, a.Namespace+"/"+a.ReleaseName)
	}
	flux := "Flux " + opts.Flux.Version + " from GitHub"
	if opts.Flux.ManifestsDir != "" {
		flux = "Flux from the local manifests " + opts.Flux.ManifestsDir
	}
	cleanup := "delete the ephemeral cluster"
	if opts.KeepEphemeral || opts.EphemeralKubeconfig != "" || opts.InjectEphemeral != nil {
		cleanup = "keep the ephemeral cluster"
	}
	return []Step{
		{StepEphemeral, ephemeral, stepEphemeral},
		{StepProvidersEphemeral, "install " + providers + " on the ephemeral cluster", stepProvidersEphemeral},
		{StepClusterChart, fmt.Sprintf("install the chart as Helm release %s/%s (server-side apply) on the ephemeral cluster", id.StorageNamespace, id.ReleaseName), stepClusterChart},
		{StepBasePlatform, fmt.Sprintf("wait for the control plane to be initialized, then install the base platform %v into %s", addons, id.Cluster), stepBasePlatform},
		{StepWaitReady, "wait until the Cluster's control plane and every MachineDeployment are available", stepWaitReady},
		{StepProvidersTarget, "install " + providers + " on " + id.Cluster, stepProvidersTarget},
		{StepPreflight, "check that everything of the cluster can move: labelled provider CRDs, linked secrets, provisioning complete, providers on the target", stepPreflight},
		{StepLabelForMove, "label the Helm release storage secrets and the cloud credentials for move", stepLabelForMove},
		{StepMove, fmt.Sprintf("record the inventory, move namespace %s to %s with clusterctl (unpause the source if it fails)", id.TargetNamespace, id.Cluster), stepMove},
		{StepFlux, flux + " and the deploy key on " + id.Cluster, stepFlux},
		{StepVerify, "compare inventories, check clusters are unpaused, adopt the release (a Helm upgrade that keeps every moved object's UID, one release record), then apply the site's flux-system objects and wait for Flux's root Kustomization", stepVerify},
		{StepCleanup, cleanup, stepCleanup},
	}
}

// Run performs the pivot. Each step first reads the clusters to see whether
// its work is already done, so Run resumes wherever an earlier run stopped;
// once a run has completed, another changes nothing.
func Run(ctx context.Context, opts Options) error {
	if err := opts.validate(); err != nil {
		return err
	}
	steps := Plan(opts)
	if opts.DryRun {
		for i, s := range steps {
			opts.logf("%2d. %s: %s", i+1, s.Name, s.Description)
		}
		return nil
	}
	if opts.StopAfter != "" && !hasStep(steps, opts.StopAfter) {
		return fmt.Errorf("unknown step %q to stop after", opts.StopAfter)
	}
	r := &runner{opts: opts, id: identityOf(opts), timeouts: opts.Timeouts.withDefaults()}
	defer r.close()

	done, err := r.alreadyComplete(ctx)
	if err != nil {
		return err
	}
	for i, s := range steps {
		if done && s.Name == StepProvidersTarget {
			// A clusterctl upgrade of the core provider since the
			// bootstrap drops the flag: a rerun puts it back.
			tgt, err := r.targetCluster(ctx)
			if err == nil {
				err = r.ensureSyncMachineLabels(ctx, tgt)
			}
			if err != nil {
				return fmt.Errorf("step %s: %w", s.Name, err)
			}
		}
		if done && s.Name != StepCleanup {
			continue
		}
		opts.logf("[%d/%d] %s", i+1, len(steps), s.Name)
		if err := s.run(ctx, r); err != nil {
			return fmt.Errorf("step %s: %w", s.Name, err)
		}
		if s.Name == opts.StopAfter {
			return ErrStopped
		}
	}
	return nil
}

func hasStep(steps []Step, name string) bool {
	for _, s := range steps {
		if s.Name == name {
			return true
		}
	}
	return false
}

func (o Options) validate() error {
	var errs []error
	if o.Site == "" {
		errs = append(errs, errors.New("site name is empty"))
	}
	if o.ManagementCluster == "" {
		errs = append(errs, errors.New("management cluster name is empty"))
	}
	if o.ClusterChart == nil {
		errs = append(errs, errors.New("the management cluster chart is not loaded"))
	}
	if o.InjectProviderInstaller == nil {
		p := o.Providers
		if p.Core == "" || p.Bootstrap == "" || p.ControlPlane == "" || p.Infrastructure == "" {
			errs = append(errs, errors.New("provider versions are incomplete: core, bootstrap, controlPlane and infrastructure are needed"))
		}
	}
	for i, a := range o.BasePlatform {
		if a.ReleaseName == "" || a.Namespace == "" || (a.Chart == nil && !o.DryRun) {
			errs = append(errs, fmt.Errorf("base platform release %d needs a release name, a namespace and a chart", i))
		}
	}
	if o.Flux.ManifestsDir == "" && o.Flux.Version == "" {
		errs = append(errs, errors.New("flux: a version or a local manifests folder is needed"))
	}
	return errors.Join(errs...)
}
