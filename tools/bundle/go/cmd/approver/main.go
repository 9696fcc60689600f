// Command approver approves the kubelets' serving certificate requests (signer kubernetes.io/kubelet-serving) after
// checking each one against the Node it is for, so that the kubelets serve their API (logs, exec, metrics) with
// certificates signed by the cluster CA instead of self-signed ones, and metrics-server can verify them.
//
// It runs in the cluster (kube-system, host network, on the control planes) with its service account, and polls the
// requests every few seconds with the standard library only. A request is approved only when all of these hold:
//
//   - it was made by the node itself: user system:node:<name>, group system:nodes;
//   - the CSR's subject is CN=system:node:<name>, O=system:nodes, and its signature is valid;
//   - its usages are "server auth" with at most "digital signature" and "key encipherment" besides;
//   - its names are the node's own: every DNS name is an address of type Hostname, InternalDNS or ExternalDNS of
//     Node <name>, every IP an address of type InternalIP or ExternalIP of it; no e-mail or URI names; at least one name.
//
// Any other request is left pending (a denial cannot be undone) and logged once with the reason.
//
//	approver [-interval 5s] [-once]
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"
)

const (
	signer       = "kubernetes.io/kubelet-serving"
	nodeUser     = "system:node:"
	nodesGroup   = "system:nodes"
	accountDir   = "/var/run/secrets/kubernetes.io/serviceaccount"
	approvalNote = "kubeseed approver: the request names only addresses of its node"
)

// CSR is the part of a certificates.k8s.io/v1 CertificateSigningRequest the approver reads.
type CSR struct {
	Metadata struct {
		Name            string `json:"name"`
		ResourceVersion string `json:"resourceVersion,omitempty"`
	} `json:"metadata"`
	Spec struct {
		Request    []byte   `json:"request"`
		SignerName string   `json:"signerName"`
		Usages     []string `json:"usages"`
		Username   string   `json:"username"`
		Groups     []string `json:"groups"`
	} `json:"spec"`
	Status struct {
		Conditions []Condition `json:"conditions,omitempty"`
	} `json:"status"`
}

// Condition is one condition of a CSR's status.
type Condition struct {
	Type           string `json:"type"`
	Status         string `json:"status"`
	Reason         string `json:"reason,omitempty"`
	Message        string `json:"message,omitempty"`
	LastUpdateTime string `json:"lastUpdateTime,omitempty"`
}

// Address is one entry of a Node's status.addresses.
type Address struct {
	Type    string `json:"type"`
	Address string `json:"address"`
}

// Node is the part of a Node the approver reads.
type Node struct {
	Status struct {
		Addresses []Address `json:"addresses"`
	} `json:"status"`
}

var errNotFound = errors.New("not found")

// decided says whether a request was approved or denied already.
func decided(csr *CSR) bool {
	for _, c := range csr.Status.Conditions {
		if c.Type == "Approved" || c.Type == "Denied" {
			return true
		}
	}
	return false
}

// nodeName is the node a request says it is for ("" when it was not made by a node).
func nodeName(csr *CSR) string {
	if !strings.HasPrefix(csr.Spec.Username, nodeUser) || !slices.Contains(csr.Spec.Groups, nodesGroup) {
		return ""
	}
	return strings.TrimPrefix(csr.Spec.Username, nodeUser)
}

// Check returns why a kubelet serving request must not be approved for the node's addresses ("" when it may).
func Check(csr *CSR, addresses []Address) string {
	if csr.Spec.SignerName != signer {
		return "signer " + csr.Spec.SignerName + " is not " + signer
	}
	name := nodeName(csr)
	if name == "" {
		return fmt.Sprintf("requested by %q (groups %v), not by a node", csr.Spec.Username, csr.Spec.Groups)
	}
	block, _ := pem.Decode(csr.Spec.Request)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return "spec.request holds no PEM certificate request"
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return "the certificate request cannot be parsed: " + err.Error()
	}
	if err := req.CheckSignature(); err != nil {
		return "the certificate request's signature is not valid: " + err.Error()
	}
	if req.Subject.CommonName != nodeUser+name || !slices.Equal(req.Subject.Organization, []string{nodesGroup}) {
		return fmt.Sprintf("subject CN=%s O=%v is not CN=%s%s O=[%s]", req.Subject.CommonName, req.Subject.Organization, nodeUser, name, nodesGroup)
	}
	if !slices.Contains(csr.Spec.Usages, "server auth") {
		return fmt.Sprintf("usages %v lack server auth", csr.Spec.Usages)
	}
	for _, usage := range csr.Spec.Usages {
		if usage != "server auth" && usage != "digital signature" && usage != "key encipherment" {
			return "usage " + usage + " is not one a kubelet serving certificate needs"
		}
	}
	if len(req.EmailAddresses) > 0 || len(req.URIs) > 0 {
		return "the request names e-mail addresses or URIs"
	}
	if len(req.DNSNames)+len(req.IPAddresses) == 0 {
		return "the request names no DNS name and no IP address"
	}
	dns, ips := map[string]bool{}, map[string]bool{}
	for _, a := range addresses {
		switch a.Type {
		case "Hostname", "InternalDNS", "ExternalDNS":
			dns[strings.ToLower(a.Address)] = true
		case "InternalIP", "ExternalIP":
			if ip := net.ParseIP(a.Address); ip != nil {
				ips[ip.String()] = true
			}
		}
	}
	for _, d := range req.DNSNames {
		if !dns[strings.ToLower(d)] {
			return fmt.Sprintf("DNS name %s is not an address of node %s", d, name)
		}
	}
	for _, ip := range req.IPAddresses {
		if !ips[ip.String()] {
			return fmt.Sprintf("IP address %s is not an address of node %s", ip, name)
		}
	}
	return ""
}

// API is a minimal client of the API server with the pod's service account (the token is read for every request: it
// is rotated).
type API struct {
	base   string
	client *http.Client
	token  string // file
}

func inCluster() (*API, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, errors.New("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set: run in a pod")
	}
	pemCA, err := os.ReadFile(accountDir + "/ca.crt")
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemCA) {
		return nil, errors.New(accountDir + "/ca.crt holds no certificate")
	}
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	return &API{
		base:   "https://" + net.JoinHostPort(host, port),
		client: &http.Client{Transport: transport, Timeout: 30 * time.Second},
		token:  accountDir + "/token",
	}, nil
}

func (a *API) do(method, path string, body, out any) error {
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, a.base+path, reader)
	if err != nil {
		return err
	}
	token, err := os.ReadFile(a.token)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusNotFound {
		return errNotFound
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// pass looks at every pending kubelet serving request once; logged remembers the requests already reported.
func pass(api *API, logged map[string]string) error {
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := api.do(http.MethodGet, "/apis/certificates.k8s.io/v1/certificatesigningrequests?fieldSelector=spec.signerName%3D"+strings.ReplaceAll(signer, "/", "%2F"), nil, &list); err != nil {
		return err
	}
	for _, raw := range list.Items {
		csr := &CSR{}
		if err := json.Unmarshal(raw, csr); err != nil {
			return err
		}
		if decided(csr) {
			delete(logged, csr.Metadata.Name)
			continue
		}
		var addresses []Address
		if name := nodeName(csr); name != "" {
			var node Node
			err := api.do(http.MethodGet, "/api/v1/nodes/"+name, nil, &node)
			if errors.Is(err, errNotFound) {
				report(logged, csr.Metadata.Name, "node "+name+" does not exist (yet)")
				continue
			} else if err != nil {
				return err
			}
			addresses = node.Status.Addresses
		}
		if reason := Check(csr, addresses); reason != "" {
			report(logged, csr.Metadata.Name, reason)
			continue
		}
		approved, err := withApproval(raw)
		if err != nil {
			return err
		}
		path := "/apis/certificates.k8s.io/v1/certificatesigningrequests/" + csr.Metadata.Name + "/approval"
		if err := api.do(http.MethodPut, path, approved, nil); err != nil {
			return err
		}
		log.Printf("approved %s for node %s", csr.Metadata.Name, nodeName(csr))
		delete(logged, csr.Metadata.Name)
	}
	return nil
}

// withApproval is the request as the API server sent it (every field kept, resourceVersion included: a request changed
// since it was read is refused) with the Approved condition added.
func withApproval(raw json.RawMessage) (map[string]any, error) {
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	obj["apiVersion"], obj["kind"] = "certificates.k8s.io/v1", "CertificateSigningRequest"
	status, _ := obj["status"].(map[string]any)
	if status == nil {
		status = map[string]any{}
	}
	conditions, _ := status["conditions"].([]any)
	status["conditions"] = append(conditions, map[string]any{
		"type": "Approved", "status": "True", "reason": "KubeseedApproved", "message": approvalNote,
		"lastUpdateTime": time.Now().UTC().Format(time.RFC3339),
	})
	obj["status"] = status
	return obj, nil
}

func report(logged map[string]string, name, reason string) {
	if logged[name] != reason {
		log.Printf("left pending %s: %s", name, reason)
		logged[name] = reason
	}
}

func main() {
	interval := flag.Duration("interval", 5*time.Second, "time between two looks at the pending requests")
	once := flag.Bool("once", false, "look once and exit (status 1 on an error)")
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.LUTC)
	api, err := inCluster()
	if err != nil {
		log.Fatal(err)
	}
	logged := map[string]string{}
	for {
		if err := pass(api, logged); err != nil {
			if *once {
				log.Fatal(err)
			}
			log.Print(err)
		}
		if *once {
			return
		}
		time.Sleep(*interval)
	}
}
