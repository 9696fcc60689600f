package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/url"
	"strings"
	"testing"
)

var nodeAddresses = []Address{{"InternalIP", "10.77.0.11"}, {"Hostname", "ks-w1"}}

type request struct {
	cn, org string
	dns     []string
	ips     []string
	emails  []string
	uris    []string
	user    string
	groups  []string
	usages  []string
	signer  string
	tamper  bool
	notAPEM bool
}

func good() request {
	return request{
		cn: "system:node:ks-w1", org: "system:nodes", dns: []string{"ks-w1"}, ips: []string{"10.77.0.11"},
		user: "system:node:ks-w1", groups: []string{"system:nodes", "system:authenticated"},
		usages: []string{"digital signature", "server auth"}, signer: signer,
	}
}

func (r request) csr(t *testing.T) *CSR {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: r.cn, Organization: []string{r.org}}, DNSNames: r.dns, EmailAddresses: r.emails}
	for _, ip := range r.ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	for _, u := range r.uris {
		parsed, _ := url.Parse(u)
		tmpl.URIs = append(tmpl.URIs, parsed)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	if r.tamper {
		der[len(der)-3] ^= 0xff // inside the signature
	}
	c := &CSR{}
	c.Spec.Request = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	if r.notAPEM {
		c.Spec.Request = []byte("not a PEM block")
	}
	c.Spec.Username, c.Spec.Groups, c.Spec.Usages, c.Spec.SignerName = r.user, r.groups, r.usages, r.signer
	return c
}

func TestCheckApprovesTheNodesOwnNames(t *testing.T) {
	if reason := Check(good().csr(t), nodeAddresses); reason != "" {
		t.Fatalf("refused: %s", reason)
	}
	onlyIP := good()
	onlyIP.dns = nil
	if reason := Check(onlyIP.csr(t), nodeAddresses); reason != "" {
		t.Fatalf("refused a request with only the node's IP: %s", reason)
	}
}

func TestCheckRefuses(t *testing.T) {
	cases := map[string]struct {
		change func(*request)
		want   string
	}{
		"another signer":             {func(r *request) { r.signer = "kubernetes.io/kube-apiserver-client-kubelet" }, "is not kubernetes.io/kubelet-serving"},
		"a user that is not a node":  {func(r *request) { r.user = "admin"; r.cn = "system:node:admin" }, "not by a node"},
		"no system:nodes group":      {func(r *request) { r.groups = []string{"system:authenticated"} }, "not by a node"},
		"another node's subject":     {func(r *request) { r.cn = "system:node:ks-cp1" }, "is not CN=system:node:ks-w1"},
		"another organization":       {func(r *request) { r.org = "system:masters" }, "O=[system:masters]"},
		"an IP of another host":      {func(r *request) { r.ips = []string{"10.77.0.10"} }, "IP address 10.77.0.10 is not an address of node ks-w1"},
		"a DNS name of another host": {func(r *request) { r.dns = []string{"kubernetes.default"} }, "DNS name kubernetes.default is not an address"},
		"an e-mail address":          {func(r *request) { r.emails = []string{"a@b.c"} }, "e-mail addresses or URIs"},
		"a URI":                      {func(r *request) { r.uris = []string{"spiffe://x/y"} }, "e-mail addresses or URIs"},
		"no names":                   {func(r *request) { r.dns, r.ips = nil, nil }, "names no DNS name and no IP address"},
		"client auth usage":          {func(r *request) { r.usages = []string{"server auth", "client auth"} }, "usage client auth"},
		"no server auth":             {func(r *request) { r.usages = []string{"digital signature"} }, "lack server auth"},
		"a bad signature":            {func(r *request) { r.tamper = true }, "signature is not valid"},
		"no PEM":                     {func(r *request) { r.notAPEM = true }, "no PEM certificate request"},
	}
	for name, tc := range cases {
		r := good()
		tc.change(&r)
		reason := Check(r.csr(t), nodeAddresses)
		if !strings.Contains(reason, tc.want) {
			t.Errorf("%s: reason %q does not contain %q", name, reason, tc.want)
		}
	}
}

func TestWithApprovalKeepsEveryFieldAndAddsTheCondition(t *testing.T) {
	raw := json.RawMessage(`{"metadata":{"name":"csr-1","resourceVersion":"42","annotations":{"a":"b"}},"spec":{"signerName":"kubernetes.io/kubelet-serving"},"status":{}}`)
	obj, err := withApproval(raw)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(obj)
	for _, want := range []string{`"resourceVersion":"42"`, `"annotations":{"a":"b"}`, `"type":"Approved"`, `"kind":"CertificateSigningRequest"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("%s lacks %s", data, want)
		}
	}
	if decidedCSR := (&CSR{Status: struct {
		Conditions []Condition `json:"conditions,omitempty"`
	}{Conditions: []Condition{{Type: "Denied"}}}}); !decided(decidedCSR) {
		t.Error("a denied request is not taken as decided")
	}
}
