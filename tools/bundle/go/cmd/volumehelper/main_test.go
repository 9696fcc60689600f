package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestCreateMakesAWorldWritableDirectoryThenDeleteRemovesItWithItsData(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "storage", "pvc-1_demo_data")
	var out bytes.Buffer
	if err := run([]string{"-p", dir, "-s", "1073741824", "-m", "Filesystem", "-a", "create"}, &out); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(dir)
	if err != nil || !info.IsDir() || info.Mode().Perm() != 0o777 {
		t.Fatalf("after create: %v %v", info, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data"), []byte("kept"), 0o600); err != nil {
		t.Fatal(err)
	}
	// create again (a helper pod retried) keeps the data
	if err := run([]string{"-p", dir, "-a", "create"}, &out); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "data")); err != nil || string(b) != "kept" {
		t.Fatalf("data after a second create: %q %v", b, err)
	}
	if err := run([]string{"-p", dir, "-a", "delete"}, &out); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("still there after delete: %v", err)
	}
	if err := run([]string{"-p", dir, "-a", "delete"}, &out); err != nil {
		t.Fatalf("delete of a missing directory: %v", err)
	}
	if !strings.Contains(out.String(), "created "+dir) || !strings.Contains(out.String(), "deleted "+dir) {
		t.Fatalf("output: %q", out.String())
	}
}

func TestAWrongArgumentNeverRemovesAnything(t *testing.T) {
	for _, args := range [][]string{
		{"-a", "delete"},
		{"-p", "/", "-a", "delete"},
		{"-p", "/opt", "-a", "delete"},
		{"-p", "relative/dir", "-a", "delete"},
		{"-p", "/opt/x/../..", "-a", "delete"},
		{"-p", "/opt/x", "-a", "wipe"},
		{"-p", "/opt/x", "-m", "Block", "-a", "create"},
	} {
		if err := run(args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}
