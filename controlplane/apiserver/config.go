package apiserver

import "github.com/kinns/kinns/controlplane/apiserver/config"

// Config is one API server of a lab; it lives in the leaf package config so
// that those who only write it do not link the server.
type Config = config.Config

// AuditPolicy is the lab's audit policy (see config.AuditPolicy).
const AuditPolicy = config.AuditPolicy
