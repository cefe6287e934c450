package pipeline

import (
	"context"
	"io/fs"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/platform"
	"github.com/capiform/capiform/tools/policy"
	"github.com/capiform/capiform/tools/render"
)

// Default are the stages every command runs over a revision: the CUE
// policy, the chart and the platform catalogue of that same revision.
func Default(fsys fs.FS) Options {
	return Options{FS: fsys, Validate: Policy(fsys, nil), Addons: Platforms, CheckChart: true}
}

// Policy validates with the CUE policy of the revision head and, when base
// is not nil, the change rules against base.
func Policy(head, base fs.FS) Validator {
	return func(ctx context.Context, fleet *load.Fleet) (diag.List, error) {
		return policy.Validate(ctx, fleet, policy.DefaultOptions(head, base))
	}
}

// Platforms loads the platform catalogue of a revision.
func Platforms(fsys fs.FS) (render.AddonsFunc, AddonsCheck, error) {
	cat, err := platform.LoadCatalogue(fsys)
	if err != nil {
		return nil, nil, err
	}
	return cat.Addons, cat.CheckAfter, nil
}
