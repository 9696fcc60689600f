// Command imagepack writes a single-layer container image as an OCI image
// layout tarball (importable with `ctr -n k8s.io images import`, which keeps
// its manifest digest), without a Docker engine or a registry.
//
// The layer is the content of one directory (-tree). Every entry is owned by
// root and carries a fixed modification time, so the same input tree gives the
// same image digests. On success it prints a JSON object with the digests.
package main

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type result struct {
	Name         string `json:"name"`
	Digest       string `json:"digest"`
	ConfigDigest string `json:"config_digest"`
	LayerDigest  string `json:"layer_digest"`
	DiffID       string `json:"diff_id"`
	Size         int64  `json:"size"`
}

// writeTreeTar writes the tree rooted at root into a tar file at dest. With
// normalize, regular files get mode 0644 and directories 0755 (for the layout
// tar); otherwise modes are kept (for the image layer).
func writeTreeTar(root, dest string, mtime time.Time, normalize bool) error {
	out, err := os.Create(dest)
	if err != nil {
		return err
	}
	defer out.Close()
	tw := tar.NewWriter(out)
	var paths []string
	err = filepath.WalkDir(root, func(p string, _ fs.DirEntry, walkErr error) error {
		if walkErr != nil {
			return walkErr
		}
		if p != root {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(paths)
	for _, p := range paths {
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if info.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "root", "root"
		if normalize && info.IsDir() {
			hdr.Mode = 0o755
		} else if normalize && info.Mode().IsRegular() {
			hdr.Mode = 0o644
		}
		hdr.ModTime, hdr.AccessTime, hdr.ChangeTime = mtime, time.Time{}, time.Time{}
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			if err := copyFile(tw, p); err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return out.Close()
}

func copyFile(w io.Writer, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// writeLayoutTar writes img as an OCI image layout (index.json, oci-layout,
// blobs/) packed in a tar file. The index names the image for containerd
// (io.containerd.image.name) and for OCI tools (ref.name = the tag).
func writeLayoutTar(img v1.Image, tag name.Tag, out string, mtime time.Time) error {
	dir, err := os.MkdirTemp(filepath.Dir(out), ".imagepack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	annotations := map[string]string{
		"io.containerd.image.name":          tag.Name(),
		"org.opencontainers.image.ref.name": tag.TagStr(),
	}
	if err := path.AppendImage(img, layout.WithAnnotations(annotations)); err != nil {
		return err
	}
	tmp := out + ".tmp"
	if err := writeTreeTar(dir, tmp, mtime, true); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}

func run() error {
	var env, entrypoint, cmd listFlag
	ref := flag.String("ref", "", "image reference, e.g. registry.k8s.io/pause:3.10.2")
	tree := flag.String("tree", "", "directory whose content becomes the single layer")
	out := flag.String("out", "", "output docker-archive tarball")
	created := flag.String("created", "1970-01-01T00:00:00Z", "creation time (RFC 3339) for the config and the layer entries")
	workdir := flag.String("workdir", "/", "working directory of the image")
	arch := flag.String("arch", "amd64", "image architecture")
	flag.Var(&env, "env", "environment variable KEY=VALUE (repeatable)")
	flag.Var(&entrypoint, "entrypoint", "entrypoint element (repeatable, in order)")
	flag.Var(&cmd, "cmd", "cmd element (repeatable, in order)")
	flag.Parse()
	if *ref == "" || *tree == "" || *out == "" {
		return errors.New("-ref, -tree and -out are required")
	}
	tag, err := name.NewTag(*ref, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("bad -ref %q: %w", *ref, err)
	}
	when, err := time.Parse(time.RFC3339, *created)
	if err != nil {
		return fmt.Errorf("bad -created: %w", err)
	}
	layerTar := *out + ".layer.tar"
	defer os.Remove(layerTar)
	if err := writeTreeTar(*tree, layerTar, when, false); err != nil {
		return fmt.Errorf("writing layer: %w", err)
	}
	layer, err := tarball.LayerFromFile(layerTar, tarball.WithCompressionLevel(gzip.BestSpeed), tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return err
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: when}, CreatedBy: "kubeseed imagepack", Comment: *ref},
	})
	if err != nil {
		return err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", *arch
	cfg.Created = v1.Time{Time: when}
	cfg.Config.Env = env
	cfg.Config.Entrypoint = entrypoint
	cfg.Config.Cmd = cmd
	cfg.Config.WorkingDir = *workdir
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return err
	}
	if err := writeLayoutTar(img, tag, *out, when); err != nil {
		return fmt.Errorf("writing %s: %w", *out, err)
	}
	res := result{Name: tag.String()}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	cd, err := img.ConfigName()
	if err != nil {
		return err
	}
	ld, err := layer.Digest()
	if err != nil {
		return err
	}
	diffID, err := layer.DiffID()
	if err != nil {
		return err
	}
	st, err := os.Stat(*out)
	if err != nil {
		return err
	}
	res.Digest, res.ConfigDigest, res.LayerDigest, res.DiffID, res.Size = d.String(), cd.String(), ld.String(), diffID.String(), st.Size()
	return json.NewEncoder(os.Stdout).Encode(res)
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "imagepack:", err)
		os.Exit(1)
	}
}
