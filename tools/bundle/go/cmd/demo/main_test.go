package main

import (
	"path/filepath"
	"reflect"
	"testing"
)

func TestEachStartIsAppendedToTheStateFileAndAllAreReturned(t *testing.T) {
	path := filepath.Join(t.TempDir(), "starts")
	first, err := recordStart(path, "web-1")
	if err != nil || !reflect.DeepEqual(first, []string{"web-1"}) {
		t.Fatalf("first start: %v %v", first, err)
	}
	second, err := recordStart(path, "web-2")
	if err != nil || !reflect.DeepEqual(second, []string{"web-1", "web-2"}) {
		t.Fatalf("second start: %v %v", second, err)
	}
	if _, err := recordStart(filepath.Join(t.TempDir(), "missing", "starts"), "web-3"); err == nil {
		t.Fatal("a state file in a missing directory was accepted")
	}
}
