package kustomize

import (
	"fmt"
	"io/fs"
	"path"
	"strings"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/capiform/capiform/tools/diag"
)

// Check reads the kustomization of opts.Dir and, recursively, every local
// base, component, resource folder, generator, transformer and validator it
// refers to, and returns every reference that Build refuses, each with its
// file:line:col and rule, as a diag.List; nil when there is none. It
// returns another error only when fsys cannot be read.
func Check(fsys fs.FS, opts Options) error {
	t, errs, err := readTree(fsys, opts)
	if err != nil {
		return err
	}
	errs = append(errs, t.check(clean(opts.Root), clean(opts.Dir))...)
	return errs.Err()
}

// Build builds opts.Dir of fsys with kustomize's krusty as
// kustomize-controller builds the path of a Flux Kustomization, but safe
// for an untrusted revision: it runs Check first and builds nothing if it
// finds anything (the error is then its diag.List), and builds on an
// in-memory copy of opts.Root with plugins limited to kustomize's builtins
// and every file loaded from below its kustomization's folder.
func Build(fsys fs.FS, opts Options) (resmap.ResMap, error) {
	t, errs, err := readTree(fsys, opts)
	if err != nil {
		return nil, err
	}
	return (&Tree{root: clean(opts.Root), t: t, errs: errs}).Build(opts.Dir)
}

// Tree is a folder of a revision read once, to build many of its folders
// (a generated tree, whose root and every cluster's paths are built): the
// reading and the in-memory copy are shared, the check runs for each
// build. A Tree is not safe for concurrent use.
type Tree struct {
	root string
	t    *tree
	errs diag.List
	mem  filesys.FileSystem
}

// ReadTree reads every file under root of fsys.
func ReadTree(fsys fs.FS, root string) (*Tree, error) {
	root = clean(root)
	t, errs, err := readTree(fsys, Options{Root: root, Dir: root})
	if err != nil {
		return nil, err
	}
	return &Tree{root: root, t: t, errs: errs}, nil
}

// Build builds folder dir of the tree as Build does: checked first,
// nothing built on any finding.
func (tr *Tree) Build(dir string) (resmap.ResMap, error) {
	dir = clean(dir)
	errs := append(diag.List(nil), tr.errs...)
	errs = append(errs, tr.t.check(tr.root, dir)...)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	if tr.mem == nil {
		tr.mem = filesys.MakeFsInMemory()
		for p, data := range tr.t.files {
			if err := tr.mem.WriteFile("/"+p, data); err != nil {
				return nil, err
			}
		}
	}
	return run(tr.mem, "/"+dir)
}

func run(mem filesys.FileSystem, dir string) (rm resmap.ResMap, err error) {
	// kustomize panics on some malformed objects; a bad revision must be
	// an error, not a crash of the whole run.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("kustomize build %s: %v", strings.TrimPrefix(dir, "/"), r)
		}
	}()
	k := krusty.MakeKustomizer(&krusty.Options{
		LoadRestrictions: types.LoadRestrictionsRootOnly,
		PluginConfig:     types.DisabledPluginConfig(),
	})
	rm, err = k.Run(mem, dir)
	if err != nil {
		// The in-memory file system's paths are the revision's, with a
		// leading slash.
		return nil, fmt.Errorf("%s", revisionPaths.Replace(err.Error()))
	}
	return rm, nil
}

// revisionPaths strips the leading slash of the in-memory file system
// from the paths in kustomize's messages, so they name the revision's
// files.
var revisionPaths = strings.NewReplacer(" /", " ", "'/", "'", `"/`, `"`)

func clean(p string) string {
	if p == "" {
		return "."
	}
	return path.Clean(p)
}

// readTree reads every regular file under opts.Root, with opts.Generated
// as the kustomization of opts.Dir when it has none. A symbolic link or
// another irregular file is a problem: the in-memory copy would not have
// it, and following it could leave the revision.
func readTree(fsys fs.FS, opts Options) (*tree, diag.List, error) {
	root, dir := clean(opts.Root), clean(opts.Dir)
	t := &tree{files: map[string][]byte{}, dirs: map[string]bool{}}
	var errs diag.List
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			t.dirs[p] = true
		case d.Type().IsRegular():
			data, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			t.files[p] = data
		default:
			errs.Add(diag.Pos{File: p}, RuleSymlink, "%s is a %s, not a regular file: kustomize builds only files of the revision; replace it with the file or folder itself", p, kindOf(d.Type()))
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", root, err)
	}
	if opts.Generated != nil && t.dirs[dir] {
		has := false
		for _, name := range konfig.RecognizedKustomizationFileNames() {
			_, ok := t.files[path.Join(dir, name)]
			has = has || ok
		}
		if !has {
			t.files[path.Join(dir, konfig.DefaultKustomizationFileName())] = opts.Generated
		}
	}
	return t, errs, nil
}

func kindOf(m fs.FileMode) string {
	if m&fs.ModeSymlink != 0 {
		return "symbolic link"
	}
	return "special file"
}
