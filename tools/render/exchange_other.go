//go:build !linux

package render

// exchange has no atomic swap of two folders to call here.
func exchange(a, b string) error { return errNoExchange }
