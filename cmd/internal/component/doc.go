// Package component is the `component` subcommand the harness runs, inside a
// lab host's namespace, for each process of the lab's component table:
// `BINARY component KIND --config FILE [--ready-fd N]`. The lab binary has a
// runner for every kind; lab-kubelet and lab-proxy have only their own, so a
// node's processes do not map the control plane's code (see Main).
//
//	func main() { component.Main("lab-proxy", map[string]component.Runner{"proxy": runproxy.Run}) }
package component
