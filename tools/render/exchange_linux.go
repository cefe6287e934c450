package render

import (
	"errors"

	"golang.org/x/sys/unix"
)

// exchange swaps the folders a and b at once with renameat2's
// RENAME_EXCHANGE. A kernel or file system without it gives errNoExchange.
func exchange(a, b string) error {
	err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) {
		return errNoExchange
	}
	return err
}
