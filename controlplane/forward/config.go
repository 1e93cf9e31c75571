package forward

// Config is a forwarder's, as `lab component forward` reads it.
type Config struct {
	// ListenFD is the listening socket it is handed (fd 3 and up).
	ListenFD int
	// Target is where connections are relayed ("10.89.0.11:6443").
	Target string
}

// BalancerConfig is an API balancer's, as `lab component apilb` reads it:
// it listens on Listen (the virtual IP) inside the fabric namespace and
// spreads connections over the API servers that pass /readyz, which it
// asks with the client certificate ClientCert/ClientKey, trusting CACert.
type BalancerConfig struct {
	Listen                        string
	Targets                       []string
	CACert, ClientCert, ClientKey string
	StatusFile                    string
}
