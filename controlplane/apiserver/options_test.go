package apiserver

import (
	"slices"
	"testing"

	"github.com/kinns/kinns/controlplane/apiserver/config"
)

// The lab's flags for the aggregator are ones kube-apiserver knows, and land
// where it reads them.
func TestParseOptionsTakesFrontProxyAndEndpointRouting(t *testing.T) {
	cfg := Config{
		AdvertiseIP: "10.89.0.11", EtcdServers: []string{"http://10.89.0.11:2379"},
		CertFile: "a.crt", KeyFile: "a.key", ClientCAFile: "ca.crt", SAPublicKeyFile: "sa.pub", SASigningKeyFile: "sa.key",
		FrontProxy: &config.FrontProxy{
			CAFile: "front-proxy-ca.crt", CertFile: "fp.crt", KeyFile: "fp.key", AllowedNames: []string{"front-proxy-client"},
		},
		EndpointRouting: true,
	}
	s, err := parseOptions(cfg)
	if err != nil {
		t.Fatalf("parseOptions: %v", err)
	}
	rh := s.Authentication.RequestHeader
	if rh.ClientCAFile != "front-proxy-ca.crt" || !slices.Equal(rh.AllowedNames, []string{"front-proxy-client"}) ||
		!slices.Equal(rh.UsernameHeaders, []string{"X-Remote-User"}) || !slices.Equal(rh.GroupHeaders, []string{"X-Remote-Group"}) ||
		!slices.Equal(rh.ExtraHeaderPrefixes, []string{"X-Remote-Extra-"}) {
		t.Errorf("request header options %+v", rh)
	}
	if s.ProxyClientCertFile != "fp.crt" || s.ProxyClientKeyFile != "fp.key" || !s.EnableAggregatorRouting {
		t.Errorf("proxy client %q %q, aggregator routing %v", s.ProxyClientCertFile, s.ProxyClientKeyFile, s.EnableAggregatorRouting)
	}
}
