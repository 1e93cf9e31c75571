package pki

import (
	"fmt"
	"net/url"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ClusterName is the kubeconfig cluster entry of a lab: "kinns-<lab>".
func ClusterName(lab string) string { return "kinns-" + lab }

// ContextName is the kubeconfig context (and user) for id: "kinns-<lab>" for the
// admin, so a person's kubeconfig reads like kind's, "kinns-<lab>-<id>" otherwise.
func ContextName(lab string, id Identity) string {
	if id == Admin {
		return ClusterName(lab)
	}
	return ClusterName(lab) + "-" + string(id)
}

// Kubeconfig renders a self-contained kubeconfig (CA, certificate and key
// embedded) for identity id against serverURL, an https URL such as
// "https://127.0.0.1:40123" from the host or "https://10.89.0.11:6443" inside
// the lab. Its current context is set, so it works as-is with kubectl.
func Kubeconfig(b *Bundle, id Identity, serverURL string) ([]byte, error) {
	cfg, err := kubeconfig(b, id, serverURL)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig for %q of lab %q: %w", id, b.Lab, err)
	}
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig for %q of lab %q: %w", id, b.Lab, err)
	}
	return data, nil
}

// WriteKubeconfig writes Kubeconfig's result to path, mode 0600 since it holds
// a private key, replacing any file there in one rename.
func WriteKubeconfig(path string, b *Bundle, id Identity, serverURL string) error {
	data, err := Kubeconfig(b, id, serverURL)
	if err != nil {
		return err
	}
	return writeFile(path, data, keyMode, regenerable)
}

func kubeconfig(b *Bundle, id Identity, serverURL string) (*clientcmdapi.Config, error) {
	if err := checkServerURL(serverURL); err != nil {
		return nil, err
	}
	client, err := b.Client(id)
	if err != nil {
		return nil, err
	}
	cluster, name := ClusterName(b.Lab), ContextName(b.Lab, id)
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[cluster] = &clientcmdapi.Cluster{Server: serverURL, CertificateAuthorityData: b.CA.CertPEM}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{ClientCertificateData: client.CertPEM, ClientKeyData: client.KeyPEM}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: cluster, AuthInfo: name}
	cfg.CurrentContext = name
	return cfg, nil
}

func checkServerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("server URL %q: %w", s, err)
	}
	if u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("server URL %q: want https://host:port", s)
	}
	return nil
}
