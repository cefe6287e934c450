//go:build !linux

package fleetbench

// isTmpfs is only known on Linux.
func isTmpfs(string) bool { return false }

// loadAverage is only read on Linux.
func loadAverage() string { return "" }
