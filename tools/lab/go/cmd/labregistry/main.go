// Command labregistry is the lab's container registry: the CNCF distribution
// registry (`labregistry serve <config.yml>`, as upstream's `registry serve`),
// built with only the filesystem storage driver and htpasswd authentication,
// plus what the lab needs around it:
//
//	labregistry certs -dir D -ip A      a lab CA and a server certificate for A (kept when present)
//	labregistry htpasswd USER           a bcrypt line for the htpasswd file; the password on stdin
//	labregistry push -tar T -ref R -ca C -user U [-label K=V]
//	                                    the image of an OCI layout tarball (the offline bundle's) pushed
//	                                    as R over TLS with basic auth; the password on stdin; with -label,
//	                                    a copy with that label in its configuration (another image ID);
//	                                    prints the digest the registry serves
package main

import (
	"archive/tar"
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/distribution/distribution/v3/registry"
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"
)

func main() {
	if len(os.Args) > 1 {
		var err error
		switch os.Args[1] {
		case "certs":
			err = certs(os.Args[2:])
		case "htpasswd":
			err = htpasswd(os.Args[2:])
		case "push":
			err = push(os.Args[2:])
		default:
			if execErr := registry.RootCmd.Execute(); execErr != nil {
				os.Exit(1)
			}
			return
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "labregistry %s: %v\n", os.Args[1], err)
			os.Exit(1)
		}
		return
	}
	if err := registry.RootCmd.Execute(); err != nil {
		os.Exit(1)
	}
}

// readSecret reads the first line of stdin (a password is never an argument: arguments show in ps).
func readSecret() (string, error) {
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on stdin")
	}
	return line, nil
}

func htpasswd(args []string) error {
	if len(args) != 1 || args[0] == "" || strings.Contains(args[0], ":") {
		return errors.New("usage: labregistry htpasswd USER (no colon in USER; the password on stdin)")
	}
	password, err := readSecret()
	if err != nil {
		return err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	fmt.Printf("%s:%s\n", args[0], hash)
	return nil
}

func writePEM(path, kind string, der []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func newKey(path string) (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return key, writePEM(path, "EC PRIVATE KEY", der, 0o600)
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
}

// certs makes dir/ca.crt (+ ca.key) and dir/server.crt (+ server.key) for the address; files that exist are kept,
// so the hosts that trust the CA keep trusting it when the lab's registry starts again.
func certs(args []string) error {
	flags := flag.NewFlagSet("certs", flag.ContinueOnError)
	dir := flags.String("dir", "", "directory of the files")
	ip := flags.String("ip", "", "the registry's address")
	if err := flags.Parse(args); err != nil {
		return err
	}
	addr := net.ParseIP(*ip)
	if *dir == "" || addr == nil {
		return errors.New("usage: labregistry certs -dir D -ip ADDRESS")
	}
	caCrt, serverCrt := filepath.Join(*dir, "ca.crt"), filepath.Join(*dir, "server.crt")
	if _, err := os.Stat(serverCrt); err == nil {
		return nil
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	now := time.Now()
	caKey, err := newKey(filepath.Join(*dir, "ca.key"))
	if err != nil {
		return err
	}
	sn, err := serial()
	if err != nil {
		return err
	}
	caTemplate := &x509.Certificate{
		SerialNumber: sn, Subject: pkix.Name{CommonName: "kubeseed lab registry CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	serverKey, err := newKey(filepath.Join(*dir, "server.key"))
	if err != nil {
		return err
	}
	if sn, err = serial(); err != nil {
		return err
	}
	serverTemplate := &x509.Certificate{
		SerialNumber: sn, Subject: pkix.Name{CommonName: addr.String()},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{addr},
	}
	serverDER, err := x509.CreateCertificate(rand.Reader, serverTemplate, caCert, &serverKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	if err := writePEM(caCrt, "CERTIFICATE", caDER, 0o644); err != nil {
		return err
	}
	return writePEM(serverCrt, "CERTIFICATE", serverDER, 0o644)
}

// unpack extracts an OCI layout tarball into dir.
func unpack(tarPath, dir string) error {
	file, err := os.Open(tarPath)
	if err != nil {
		return err
	}
	defer file.Close()
	reader := tar.NewReader(file)
	for {
		header, err := reader.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.Clean("/"+header.Name))
		switch header.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			out, err := os.Create(target)
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, reader); err != nil {
				out.Close()
				return err
			}
			if err := out.Close(); err != nil {
				return err
			}
		}
	}
}

func push(args []string) error {
	flags := flag.NewFlagSet("push", flag.ContinueOnError)
	tarPath := flags.String("tar", "", "OCI layout tarball")
	refText := flags.String("ref", "", "where to push it (registry/repository:tag)")
	caPath := flags.String("ca", "", "CA of the registry's certificate")
	user := flags.String("user", "", "user name (the password on stdin)")
	label := flags.String("label", "", "K=V: push a copy with this label in its configuration (a different image)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *tarPath == "" || *refText == "" || *caPath == "" || *user == "" {
		return errors.New("usage: labregistry push -tar T -ref R -ca C -user U (the password on stdin)")
	}
	password, err := readSecret()
	if err != nil {
		return err
	}
	ref, err := name.ParseReference(*refText)
	if err != nil {
		return err
	}
	caPEM, err := os.ReadFile(*caPath)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("%s holds no certificate", *caPath)
	}
	dir, err := os.MkdirTemp("", "labregistry-push-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := unpack(*tarPath, dir); err != nil {
		return fmt.Errorf("%s: %w", *tarPath, err)
	}
	index, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", *tarPath, err)
	}
	manifest, err := index.IndexManifest()
	if err != nil {
		return err
	}
	if len(manifest.Manifests) != 1 {
		return fmt.Errorf("%s: %d images, one expected", *tarPath, len(manifest.Manifests))
	}
	image, err := index.Image(manifest.Manifests[0].Digest)
	if err != nil {
		return err
	}
	if *label != "" {
		if image, err = withLabel(image, *label); err != nil {
			return err
		}
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if err := remote.Write(ref, image, remote.WithAuth(&authn.Basic{Username: *user, Password: password}),
		remote.WithTransport(transport)); err != nil {
		return err
	}
	digest, err := image.Digest()
	if err != nil {
		return err
	}
	// what the registry now serves under the reference, read back: the digest printed is the one a pull resolves
	served, err := remote.Head(ref, remote.WithAuth(&authn.Basic{Username: *user, Password: password}), remote.WithTransport(transport))
	if err != nil {
		return err
	}
	if served.Digest != digest {
		return fmt.Errorf("%s: the registry serves %s after the push of %s", ref, served.Digest, digest)
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]string{"ref": ref.String(), "digest": digest.String()})
}

// withLabel is image with the label K=V added to its configuration: the same layers, a new configuration digest,
// so a new image ID on the nodes that pull it.
func withLabel(image v1.Image, label string) (v1.Image, error) {
	key, value, ok := strings.Cut(label, "=")
	if !ok || key == "" {
		return nil, fmt.Errorf("-label %q: K=V expected", label)
	}
	config, err := image.ConfigFile()
	if err != nil {
		return nil, err
	}
	config = config.DeepCopy()
	if config.Config.Labels == nil {
		config.Config.Labels = map[string]string{}
	}
	config.Config.Labels[key] = value
	return mutate.ConfigFile(image, config)
}
