package pki

import "path/filepath"

// Identity names a client certificate, and so a kubeconfig user: one of the fixed
// identities below or a node name (see NodeIdentity).
type Identity string

// The fixed client identities. Their subjects are what Kubernetes' default RBAC
// bindings and the Node authorizer expect (see subjectOf).
const (
	Admin                  Identity = "admin"
	APIServerKubeletClient Identity = "apiserver-kubelet-client"
	Proxy                  Identity = "proxy"
	Scheduler              Identity = "scheduler"
	ControllerManager      Identity = "controller-manager"
	DNS                    Identity = "dns"
	CloudControllerManager Identity = "cloud-controller-manager"
)

// NodeIdentity is the identity of a node's kubelet (system:node:<node>).
func NodeIdentity(node string) Identity { return Identity(node) }

const kubeletPrefix = "kubelet-"

// reservedStems are file stems a node name must not take.
var reservedStems = []string{
	"ca", "apiserver", "sa", "encryption", "front-proxy-ca", "front-proxy-client",
	string(Admin), string(APIServerKubeletClient), string(Proxy), string(Scheduler), string(ControllerManager), string(DNS), string(CloudControllerManager),
}

// Paths names every file of a lab's pki folder, so callers never build names by
// hand. It only computes names; it neither reads nor checks the files.
type Paths struct{ Dir string }

func (p Paths) file(name string) string { return filepath.Join(p.Dir, name) }

// CACert and CAKey are the lab CA (kube-apiserver --client-ca-file, and every
// kubeconfig's certificate-authority).
func (p Paths) CACert() string { return p.file("ca.crt") }
func (p Paths) CAKey() string  { return p.file("ca.key") }

// APIServerCert and APIServerKey are kube-apiserver's --tls-cert-file and
// --tls-private-key-file.
func (p Paths) APIServerCert() string { return p.file("apiserver.crt") }
func (p Paths) APIServerKey() string  { return p.file("apiserver.key") }

// ClientCert and ClientKey hold identity id's client certificate; for
// APIServerKubeletClient they are kube-apiserver's --kubelet-client-certificate
// and --kubelet-client-key.
func (p Paths) ClientCert(id Identity) string { return p.file(string(id) + ".crt") }
func (p Paths) ClientKey(id Identity) string  { return p.file(string(id) + ".key") }

// KubeletCert and KubeletKey are node's kubelet serving certificate.
func (p Paths) KubeletCert(node string) string { return p.file(kubeletPrefix + node + ".crt") }
func (p Paths) KubeletKey(node string) string  { return p.file(kubeletPrefix + node + ".key") }

// ServiceAccountKey is kube-apiserver's --service-account-signing-key-file (private)
// and ServiceAccountPub its --service-account-key-file (public).
func (p Paths) ServiceAccountKey() string { return p.file("sa.key") }
func (p Paths) ServiceAccountPub() string { return p.file("sa.pub") }

// Kubeconfig is the conventional place for identity id's kubeconfig. Generate
// writes none: a kubeconfig depends on the server URL, which the caller chooses
// (see WriteKubeconfig).
func (p Paths) Kubeconfig(id Identity) string { return p.file(string(id) + ".kubeconfig") }

// EtcdDir holds the etcd CA and every certificate it signs.
func (p Paths) EtcdDir() string { return p.file("etcd") }

func (p Paths) etcdFile(name string) string { return filepath.Join(p.EtcdDir(), name) }

// EtcdCACert and EtcdCAKey are the etcd CA: every member's --trusted-ca-file
// and --peer-trusted-ca-file, and kube-apiserver's --etcd-cafile.
func (p Paths) EtcdCACert() string { return p.etcdFile("ca.crt") }
func (p Paths) EtcdCAKey() string  { return p.etcdFile("ca.key") }

// EtcdServerCert and EtcdServerKey serve member's client port.
func (p Paths) EtcdServerCert(member string) string { return p.etcdFile("server-" + member + ".crt") }
func (p Paths) EtcdServerKey(member string) string  { return p.etcdFile("server-" + member + ".key") }

// EtcdPeerCert and EtcdPeerKey are member's on its peer port, both ways.
func (p Paths) EtcdPeerCert(member string) string { return p.etcdFile("peer-" + member + ".crt") }
func (p Paths) EtcdPeerKey(member string) string  { return p.etcdFile("peer-" + member + ".key") }

// EtcdClientCert and EtcdClientKey hold etcd client id's certificate; for
// EtcdAPIServerClient they are kube-apiserver's --etcd-certfile and
// --etcd-keyfile.
func (p Paths) EtcdClientCert(id EtcdClient) string { return p.etcdFile(string(id) + ".crt") }
func (p Paths) EtcdClientKey(id EtcdClient) string  { return p.etcdFile(string(id) + ".key") }

// EncryptionKey holds the key that encrypts Secrets in etcd: 32 random bytes,
// base64-encoded on one line (the form an EncryptionConfiguration takes).
func (p Paths) EncryptionKey() string { return p.file("encryption.key") }

func (p Paths) lockFile() string { return p.file(".lock") }
