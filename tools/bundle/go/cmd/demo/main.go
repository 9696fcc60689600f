// Command demo is kubeseed's small HTTP service for the demo applications and the
// cluster's end-to-end checks. It is shipped in the offline bundle as the image
// kubeseed.local/demo, so it runs on air-gapped clusters without any registry.
//
//	demo serve [-listen :8080] [-name NAME] [-backend URL] [-state-file PATH]
//	    answers GET / with JSON {service, pod, node, message, backend, starts}; with -backend it
//	    calls that URL for every request and embeds its answer (frontend -> backend).
//	    With -state-file it appends its pod name to that file when it starts and answers with every
//	    line of it in starts (a volume that keeps data across pod restarts shows every pod that used it).
//	    GET /healthz answers "ok" (for probes).
//	demo get [-timeout 5s] URL
//	    prints the body of URL, exits 1 when it cannot be fetched or is not 2xx.
//	demo load [-c 8] [-d 60s] URL
//	    GETs URL from c concurrent loops for d (a bounded load, e.g. to make an autoscaler scale), then prints
//	    the requests answered and failed; exits 1 when none was answered.
//
// Settings may also come from the environment: DEMO_NAME, DEMO_BACKEND, DEMO_MESSAGE,
// DEMO_LISTEN, DEMO_STATE_FILE (the microservices role passes env and config this way).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// release is the demo image tag (kubeseed.local/demo:<release>); keep it equal to DEMO_IMAGE in tools/bundle/kubeseed_bundle/pins.py.
const release = "0.3.0"

func env(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

type answer struct {
	Service string          `json:"service"`
	Version string          `json:"version"`
	Pod     string          `json:"pod"`
	Node    string          `json:"node,omitempty"`
	Message string          `json:"message,omitempty"`
	Backend json.RawMessage `json:"backend,omitempty"`
	Error   string          `json:"error,omitempty"`
	Starts  []string        `json:"starts,omitempty"`
}

// recordStart appends pod to the state file (made when missing) and returns every line of it.
func recordStart(path, pod string) ([]string, error) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	if _, err := fmt.Fprintln(f, pod); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(data)), nil
}

func fetch(client *http.Client, url string) ([]byte, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return body, fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return body, nil
}

func serve(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	listen := fs.String("listen", env("DEMO_LISTEN", ":8080"), "address to listen on")
	name := fs.String("name", env("DEMO_NAME", "demo"), "service name in answers")
	backend := fs.String("backend", env("DEMO_BACKEND", ""), "URL called for every request")
	drainDelay := fs.Duration("drain-delay", 5*time.Second, "on SIGTERM, keep serving this long (readiness failing) so that Services stop routing here first")
	stateFile := fs.String("state-file", env("DEMO_STATE_FILE", ""), "file (on a volume) this pod's name is appended to when it starts")
	_ = fs.Parse(args)
	pod, _ := os.Hostname()
	var starts []string
	if *stateFile != "" {
		var err error
		if starts, err = recordStart(*stateFile, pod); err != nil {
			fmt.Fprintln(os.Stderr, "state file:", err)
			return 1
		}
	}
	client := &http.Client{Timeout: 5 * time.Second}
	mux := http.NewServeMux()
	var stopping atomic.Bool
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if stopping.Load() {
			http.Error(w, "stopping", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		out := answer{Service: *name, Version: release, Pod: pod, Node: os.Getenv("DEMO_NODE"), Message: os.Getenv("DEMO_MESSAGE"), Starts: starts}
		status := http.StatusOK
		if *backend != "" {
			body, err := fetch(client, *backend)
			if err != nil {
				out.Error = err.Error()
				status = http.StatusBadGateway
			} else if json.Valid(body) {
				out.Backend = body
			} else {
				out.Backend, _ = json.Marshal(string(body))
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(out)
	})
	server := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		// the endpoint is removed from the Service asynchronously: answer meanwhile, then stop
		stopping.Store(true)
		time.Sleep(*drainDelay)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = server.Shutdown(ctx)
	}()
	fmt.Printf("demo %s: %s listening on %s\n", release, *name, *listen)
	if err := server.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func get(args []string) int {
	fs := flag.NewFlagSet("get", flag.ExitOnError)
	timeout := fs.Duration("timeout", 5*time.Second, "request timeout")
	_ = fs.Parse(args)
	if fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: demo get [-timeout 5s] URL")
		return 2
	}
	body, err := fetch(&http.Client{Timeout: *timeout}, fs.Arg(0))
	os.Stdout.Write(body)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func load(args []string) int {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	concurrency := fs.Int("c", 8, "concurrent request loops")
	duration := fs.Duration("d", 60*time.Second, "how long to load")
	_ = fs.Parse(args)
	if fs.NArg() != 1 || *concurrency < 1 {
		fmt.Fprintln(os.Stderr, "usage: demo load [-c 8] [-d 60s] URL")
		return 2
	}
	client := &http.Client{Timeout: 5 * time.Second}
	var answered, failed atomic.Int64
	deadline := time.Now().Add(*duration)
	done := make(chan struct{})
	for i := 0; i < *concurrency; i++ {
		go func() {
			for time.Now().Before(deadline) {
				if _, err := fetch(client, fs.Arg(0)); err != nil {
					failed.Add(1)
					time.Sleep(100 * time.Millisecond)
				} else {
					answered.Add(1)
				}
			}
			done <- struct{}{}
		}()
	}
	for i := 0; i < *concurrency; i++ {
		<-done
	}
	fmt.Printf("%d answered, %d failed in %s\n", answered.Load(), failed.Load(), *duration)
	if answered.Load() == 0 {
		return 1
	}
	return 0
}

func main() {
	if len(os.Args) < 2 {
		os.Exit(serve(nil))
	}
	switch os.Args[1] {
	case "serve":
		os.Exit(serve(os.Args[2:]))
	case "get":
		os.Exit(get(os.Args[2:]))
	case "load":
		os.Exit(load(os.Args[2:]))
	case "-v", "--version", "version":
		fmt.Printf("demo %s (kubeseed)\n", release)
	default:
		os.Exit(serve(os.Args[1:]))
	}
}
