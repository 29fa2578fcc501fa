package localnode

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// PKI are the files that let the API server and the node's kubelet API
// trust each other: a CA of their own, the kubelet's serving certificate for
// 127.0.0.1, and the API server's client certificate
// (--kubelet-client-certificate). The kubelet API lets in only a client
// with a certificate from this CA, since exec runs commands as the user who
// runs the node; the API server checks the kubelet's certificate against it
// (--kubelet-certificate-authority) instead of skipping verification.
type PKI struct {
	CA                 string
	KubeletCert        string
	KubeletKey         string
	APIServerClientCrt string
	APIServerClientKey string
}

// PKIPaths names the files of the PKI kept in dir.
func PKIPaths(dir string) PKI {
	d := dir
	return PKI{
		CA:                 filepath.Join(d, "node-ca.crt"),
		KubeletCert:        filepath.Join(d, "kubelet.crt"),
		KubeletKey:         filepath.Join(d, "kubelet.key"),
		APIServerClientCrt: filepath.Join(d, "apiserver-kubelet-client.crt"),
		APIServerClientKey: filepath.Join(d, "apiserver-kubelet-client.key"),
	}
}

// certValidity: a test cluster's directory may be kept and started again
// for a long time.
const certValidity = 10 * 365 * 24 * time.Hour

// EnsurePKI keeps the certificates an earlier run wrote in dir while they
// are valid for another day, and makes a new set otherwise.
func EnsurePKI(dir string) (PKI, error) {
	p := PKIPaths(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return p, err
	}
	if p.valid() {
		return p, nil
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return p, err
	}
	now := time.Now().Add(-time.Hour) // tolerate a clock a little behind
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "ark-localcluster-node-ca"},
		NotBefore:             now,
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return p, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return p, err
	}
	leaf := func(certPath, keyPath string, tmpl *x509.Certificate) error {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		tmpl.SerialNumber = serial()
		tmpl.NotBefore, tmpl.NotAfter = now, now.Add(certValidity)
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return err
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return err
		}
		if err := writeFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
			return err
		}
		return writeFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	}
	if err := leaf(p.KubeletCert, p.KubeletKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "ark-local-node"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:    []string{"localhost"},
	}); err != nil {
		return p, fmt.Errorf("kubelet serving certificate: %w", err)
	}
	if err := leaf(p.APIServerClientCrt, p.APIServerClientKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return p, fmt.Errorf("apiserver kubelet-client certificate: %w", err)
	}
	// The CA last: its presence marks a complete set.
	if err := writeFile(p.CA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		return p, err
	}
	return p, nil
}

// valid reports whether every file is there and each certificate chains to
// the CA and stays valid for at least a day.
func (p PKI) valid() bool {
	caPEM, err := os.ReadFile(p.CA)
	if err != nil {
		return false
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return false
	}
	for _, pair := range [][2]string{{p.KubeletCert, p.KubeletKey}, {p.APIServerClientCrt, p.APIServerClientKey}} {
		kp, err := tls.LoadX509KeyPair(pair[0], pair[1])
		if err != nil || len(kp.Certificate) == 0 {
			return false
		}
		cert, err := x509.ParseCertificate(kp.Certificate[0])
		if err != nil {
			return false
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}, CurrentTime: time.Now().Add(24 * time.Hour)}); err != nil {
			return false
		}
	}
	return true
}

// ClientTLS is the API server's side, for a client of the kubelet API.
func (p PKI) ClientTLS() (*tls.Config, error) {
	caPEM, err := os.ReadFile(p.CA)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("no certificate in " + p.CA)
	}
	cert, err := tls.LoadX509KeyPair(p.APIServerClientCrt, p.APIServerClientKey)
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n
}

func writeFile(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
