package pipeline

import "io/fs"

// Default are the stages every command runs over a revision: the CUE
// policy and the platform catalogue of that same revision.
func Default(fsys fs.FS) Options {
	return Options{FS: fsys}
}
