package fluxenv

import "syscall"

// childAttr makes the kernel kill a controller when the test binary dies,
// so that a killed test leaves no controller behind.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
