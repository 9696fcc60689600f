// Command volumehelper makes and removes the directories of local-path-provisioner's volumes on a node. The storage
// add-on's provisioner runs it in a short-lived helper pod (its setupCommand and teardownCommand) instead of a shell
// script in a busybox image, so the bundle needs no shell image:
//
//	volumehelper -p /opt/local-path-provisioner/pvc-... -s <size in bytes> -m Filesystem -a create|delete
//
// create makes the directory (and its parents) with mode 0777, as the provisioner's own script does, so that a pod
// running as any user can write to its volume; delete removes it with everything in it. The path must be absolute,
// clean and at least two levels below the root, so that a wrong argument can never remove a top-level directory.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "volumehelper:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("volumehelper", flag.ContinueOnError)
	path := fs.String("p", "", "the volume's directory on the node (absolute)")
	fs.String("s", "0", "the requested size in bytes (not enforced: a local volume takes what the disk has)")
	mode := fs.String("m", "Filesystem", "the volume mode (only Filesystem)")
	action := fs.String("a", "", "create or delete")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkPath(*path); err != nil {
		return err
	}
	switch *action {
	case "create":
		if *mode != "Filesystem" {
			return fmt.Errorf("volume mode %q is not supported (only Filesystem)", *mode)
		}
		if err := os.MkdirAll(*path, 0o777); err != nil {
			return err
		}
		// MkdirAll's mode goes through the umask
		if err := os.Chmod(*path, 0o777); err != nil {
			return err
		}
		fmt.Fprintf(out, "created %s\n", *path)
	case "delete":
		if err := os.RemoveAll(*path); err != nil {
			return err
		}
		fmt.Fprintf(out, "deleted %s\n", *path)
	default:
		return fmt.Errorf("-a must be create or delete, not %q", *action)
	}
	return nil
}

func checkPath(path string) error {
	if path == "" {
		return errors.New("-p (the volume's directory) is required")
	}
	if !filepath.IsAbs(path) || filepath.Clean(path) != path {
		return fmt.Errorf("-p %q must be an absolute, clean path", path)
	}
	if strings.Count(path, "/") < 2 {
		return fmt.Errorf("-p %q is too close to the root (a volume's directory is at least two levels down)", path)
	}
	return nil
}
