package config

import "strings"

// FrontProxy is how the aggregator authenticates to extension API servers,
// as kubeadm sets it up: a CA of its own (so no lab client certificate can
// pose as the proxy), the proxy's client certificate, and the headers that
// carry the authenticated caller. The API server publishes all but the key in
// kube-system/extension-apiserver-authentication, where extension servers
// read it.
type FrontProxy struct {
	// CAFile is --requestheader-client-ca-file: the CA of CertFile.
	CAFile string
	// CertFile and KeyFile are --proxy-client-cert-file and -key-file.
	CertFile, KeyFile string
	// AllowedNames are the common names a proxy's certificate may have
	// (--requestheader-allowed-names): CertFile's.
	AllowedNames []string
}

// The request headers that carry the caller, upstream's conventional names.
const (
	UsernameHeader     = "X-Remote-User"
	GroupHeader        = "X-Remote-Group"
	ExtraHeadersPrefix = "X-Remote-Extra-"
)

func (fp FrontProxy) flags() []string {
	return []string{
		"--requestheader-client-ca-file=" + fp.CAFile,
		"--requestheader-allowed-names=" + strings.Join(fp.AllowedNames, ","),
		"--requestheader-username-headers=" + UsernameHeader,
		"--requestheader-group-headers=" + GroupHeader,
		"--requestheader-extra-headers-prefix=" + ExtraHeadersPrefix,
		"--proxy-client-cert-file=" + fp.CertFile,
		"--proxy-client-key-file=" + fp.KeyFile,
	}
}
