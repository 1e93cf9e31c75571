#!/usr/bin/env bash
# make conformance: builds upstream's e2e.test and the images its conformance
# tests run (from the k8s.io/kubernetes module go.mod pins), boots a lab named
# conformance, loads the images, runs the [Conformance] tests that are not
# [Disruptive]: the others with Ginkgo's parallel processes, then the
# [Serial] ones one at a time, and writes _output/conformance/{junit.xml,
# report.json (and -serial of each), summary.txt}. The lab is removed on any
# exit.
#   CONFORMANCE_BUILD=0     reuse the binaries and images of the last run
#   CONFORMANCE_FOCUS=re    run only these tests (default '\[Conformance\]')
#   CONFORMANCE_SKIP=re     leave these out (default '\[Disruptive\]'; [Serial] tests
#                           never run in the parallel phase)
#   CONFORMANCE_SERIAL=0    no serial phase
#   CONFORMANCE_PROCS=n     Ginkgo processes (default 5 per CPU; see below)
#   CONFORMANCE_TIMEOUT=d   the suite's timeout (default 75m)
#   CONFORMANCE_LAB=name    the lab's name (default conformance)
#   CONFORMANCE_TIMING=p    the lab's timing profile (default kubernetes:
#                           upstream's timings, which the suite is written
#                           for; fast soaks the fast profile under its load)
#   CONFORMANCE_REGISTRY_PORT=n  the port of the run's registry on 127.0.0.1,
#                           the lab's mirror of registry.k8s.io (default 5301)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
out=$root/_output/conformance
bin=$out/bin
lab=$root/_output/bin/lab
name=${CONFORMANCE_LAB:-conformance}
port=${CONFORMANCE_REGISTRY_PORT:-5301}
mod=$root/ci/conformance
K8S_VERSION=v1.37.2 # the version of k8s.io/kubernetes in both go.mod files
ldflags="-X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37"
mkdir -p "$bin"

# The images' inputs from Debian: a static busybox, the tools upstream's
# agnhost image has (curl, netcat with -z/-u, dig, ss, ip, bash, socat), and
# what builds busybox from source (a C compiler, make, the static libc).
deps() {
	local missing=() cmd pkg
	declare -A need=([/bin/busybox]=busybox-static [/usr/bin/curl]=curl [/usr/bin/nc]=netcat-openbsd
		[/usr/bin/dig]=bind9-dnsutils [/usr/bin/ss]=iproute2 [/usr/bin/socat]=socat [/usr/bin/bash]=bash
		[/usr/bin/gcc]=gcc [/usr/bin/make]=make [/usr/bin/bzip2]=bzip2)
	for cmd in "${!need[@]}"; do
		[[ -x $cmd ]] || missing+=("${need[$cmd]}")
	done
	dpkg -s libc6-dev >/dev/null 2>&1 || missing+=(libc6-dev)
	if ((${#missing[@]})); then
		echo "installing ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
}

# upstream_busybox builds $bin/busybox: upstream's busybox, static, with its
# default configuration, as upstream's busybox image has it. Its source is
# Debian's source package of busybox, whose upstream tarball is used as it
# is: Debian's patches make sh drop the variables whose names are not shell
# identifiers, which upstream's sh passes on. The package comes from this
# machine's Debian mirror, through an apt state of its own (the machine's
# lists may have no source entries, and are left as they are).
upstream_busybox() {
	[[ -x $bin/busybox ]] && return
	local apt=$out/busybox-src conf
	rm -rf "$apt"
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/src"
	if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
		sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources >"$apt/sources.sources"
		conf=(-o Dir::Etc::sourcelist=/dev/null -o Dir::Etc::sourceparts="$apt")
	else
		sed -n 's/^deb /deb-src /p' /etc/apt/sources.list >"$apt/sources.list"
		conf=(-o Dir::Etc::sourcelist="$apt/sources.list" -o Dir::Etc::sourceparts=-)
	fi
	conf+=(-o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache" -o APT::Sandbox::User=root)
	echo "building busybox from upstream's source (Debian's source package)"
	if ! apt-get "${conf[@]}" update -qq || ! (cd "$apt/src" && apt-get "${conf[@]}" source --download-only -qq busybox); then
		echo "could not fetch busybox's source package from this machine's Debian mirror (deb-src of its apt sources);" \
			"put a static busybox built from upstream's source at $bin/busybox and run make conformance again" >&2
		exit 1
	fi
	tar -xf "$apt"/src/busybox_*.orig.tar.* -C "$apt/src"
	(
		cd "$apt"/src/busybox-*/
		make defconfig >/dev/null
		sed -i 's/^# CONFIG_STATIC is not set$/CONFIG_STATIC=y/' .config
		if ! nice -n 19 make -j"$(nproc)" busybox >"$apt/build.log" 2>&1; then
			tail -20 "$apt/build.log" >&2
			exit 1
		fi
		cp busybox "$bin/busybox"
	)
	rm -rf "$apt"
}

build() {
	local start=$SECONDS
	upstream_busybox
	(
		cd "$mod"
		echo "building e2e.test, ginkgo, agnhost, nnp, sample-apiserver, etcd (the first build takes long: the whole e2e framework)"
		nice -n 19 go test -c -ldflags "$ldflags" -o "$bin/e2e.test" k8s.io/kubernetes/test/e2e
		nice -n 19 go build -o "$bin/ginkgo" github.com/onsi/ginkgo/v2/ginkgo
		CGO_ENABLED=0 nice -n 19 go build -trimpath -ldflags='-s -w' -o "$bin/agnhost" k8s.io/kubernetes/test/images/agnhost
		CGO_ENABLED=0 nice -n 19 go build -trimpath -ldflags='-s -w' -o "$bin/nnp" k8s.io/kubernetes/test/images/nonewprivs
		CGO_ENABLED=0 nice -n 19 go build -trimpath -ldflags='-s -w' -o "$bin/sample-apiserver" k8s.io/sample-apiserver
		CGO_ENABLED=0 nice -n 19 go build -trimpath -ldflags='-s -w' -o "$bin/etcd" ./cmd/etcd
		nice -n 19 go build -o "$bin/images" ./cmd/images
		nice -n 19 go build -o "$bin/summary" ./cmd/summary
		"$bin/images" -agnhost "$bin/agnhost" -nnp "$bin/nnp" -upstream-busybox "$bin/busybox" -o "$out/images.tar" \
			-sample-apiserver "$bin/sample-apiserver" -etcd "$bin/etcd" \
			-sources "$(go list -m -f '{{.Dir}}' k8s.io/kubernetes)"
	)
	echo "build: $((SECONDS - start))s"
}

down() {
	# The components' logs outlive the lab: a failure is read in them
	# (the API servers', etcd's, the kubelets').
	local state
	state=$("$lab" status --name "$name" 2>/dev/null | awk '$1 == "state:" {print $2}')
	if [[ -d $state/logs ]]; then
		rm -rf "$out/lab-logs"
		cp -r "$state/logs" "$out/lab-logs"
	fi
	"$lab" down --name "$name" || echo "lab down --name $name failed; run it again" >&2
	"$lab" registry down --port "$port" --purge || echo "lab registry down --port $port --purge failed; run it again" >&2
}

deps
if [[ ${CONFORMANCE_BUILD:-1} != 0 || ! -x $bin/e2e.test || ! -s $out/images.tar ]]; then
	build
fi
# A report is this run's or none; e2e/ holds the suite's own JUnit and the
# namespace dumps of failed tests.
rm -rf "$out"/junit*.xml "$out"/report*.json "$out/summary.txt" "$out/e2e"
mkdir -p "$out/e2e"

start=$SECONDS
trap down EXIT
# The images are loaded on every node, and also served by a registry of the
# run's own, as the mirror of registry.k8s.io: a test whose pod says
# imagePullPolicy: Always (the PodCertificate mTLS and the ImageVolume tests)
# resolves its image there, as a cluster without Internet does with a mirror.
"$lab" registry up --port "$port"
"$lab" registry push --port "$port" "$out/images.tar" >/dev/null
"$lab" up --name "$name" --nodes 3 --timing "${CONFORMANCE_TIMING:-kubernetes}" --registry-mirror "registry.k8s.io=http://127.0.0.1:$port"
"$lab" load --name "$name" "$out/images.tar"
"$lab" kubeconfig --name "$name" >"$out/kubeconfig"
echo "lab up and loaded: $((SECONDS - start))s"

# The tests mostly wait for pods, so more processes than CPUs keep the lab
# busy; the lab itself (three API servers, etcd, the nodes) shares the CPUs,
# and 5 per CPU (10 on 2) ran the whole set in about 15 minutes.
procs=${CONFORMANCE_PROCS:-$(($(nproc) * 5))}
skip=${CONFORMANCE_SKIP:-'\[Disruptive\]'}
suite() { # suite NAME GINKGO-FLAGS...: one phase of the run
	local phase=$1
	shift
	"$bin/ginkgo" --timeout="${CONFORMANCE_TIMEOUT:-75m}" \
		--focus="${CONFORMANCE_FOCUS:-\[Conformance\]}" --skip="$skip" "$@" \
		--output-dir="$out" --junit-report="junit$phase.xml" --json-report="report$phase.json" --no-color \
		"$bin/e2e.test" -- -kubeconfig="$out/kubeconfig" -provider=skeleton -report-dir="$out/e2e" \
		-disable-log-dump
}
rc=0
# The [Serial] tests (upstream marks them with a label, not Ginkgo's Serial
# decorator) run after the others, one at a time, as upstream runs them.
suite "" --procs="$procs" --skip='\[Serial\]' || rc=$?
echo "parallel tests: $((SECONDS - start))s, ginkgo exit $rc"
reports=("$out/report.json")
if [[ ${CONFORMANCE_SERIAL:-1} != 0 ]]; then
	src=0
	suite -serial --procs=1 --label-filter=Serial || src=$?
	echo "serial tests: $((SECONDS - start))s, ginkgo exit $src"
	((rc)) || rc=$src
	reports+=("$out/report-serial.json")
fi

if [[ -s $out/report.json ]]; then
	"$bin/summary" "${reports[@]}" >"$out/summary.txt" || rc=$?
	echo; echo "===== $out/summary.txt ====="
	cat "$out/summary.txt"
fi
exit "$rc"
