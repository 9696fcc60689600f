// Command pause is the kubeseed sandbox ("pause") container process.
//
// It holds the pod's namespaces open, reaps orphaned children that are
// re-parented to it (it runs as PID 1 of the sandbox) and exits on SIGINT or
// SIGTERM. It is static (CGO_ENABLED=0) so the image needs no libraries.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is set by the bundle builder with -ldflags "-X main.version=...".
var version = "unknown"

func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "-v" || os.Args[1] == "--version") {
		fmt.Printf("pause %s (kubeseed)\n", version)
		return
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "warning: pause should be the first process")
	}
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig == syscall.SIGCHLD {
			reap()
			continue
		}
		fmt.Fprintf(os.Stderr, "shutting down, got signal %v\n", sig)
		os.Exit(0)
	}
}
