package forward

// Config is a forwarder's, as `lab component forward` reads it.
type Config struct {
	// ListenFD is the listening socket it is handed (fd 3 and up).
	ListenFD int
	// Target is where connections are relayed ("10.89.0.11:6443").
	Target string
}
