// Package repocheck holds tests of the repository itself: the README's
// commands, the CI entry point and the Nix dev shell.
package repocheck
