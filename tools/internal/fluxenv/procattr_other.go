//go:build !linux

package fluxenv

import "syscall"

func childAttr() *syscall.SysProcAttr { return nil }
