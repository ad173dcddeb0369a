#!/usr/bin/env bash
# Installs the real servers and tools the tests run (Debian packages), only when one is missing.
set -euo pipefail
need=()
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v skopeo >/dev/null || need+=(skopeo)
command -v etcd >/dev/null || need+=(etcd-server)
command -v etcdctl >/dev/null || need+=(etcd-client)
command -v umoci >/dev/null || need+=(umoci)
command -v htpasswd >/dev/null || need+=(apache2-utils)
command -v openssl >/dev/null || need+=(openssl)
# crashfs (test/helpers/crashfs.py): a FUSE file system that loses what was not fsync'd; eatmydata shows the
# machine-crash test failing when Berth's fsyncs are removed (DURABILITY_WITHOUT_FSYNC=1).
command -v fusermount3 >/dev/null || need+=(fuse3)
/usr/bin/python3 -c 'import fusepy' 2>/dev/null || need+=(python3-fusepy)
command -v eatmydata >/dev/null || need+=(eatmydata)
command -v prlimit >/dev/null || need+=(util-linux)
command -v tmux >/dev/null || need+=(tmux)
# The pull-through tests pull with a real container runtime (started by the test, root, dirs of its own).
command -v containerd >/dev/null || need+=(containerd)
# The docs page test drives Debian's chromium (playwright-core never downloads a browser); promtool checks /metrics.
command -v chromium >/dev/null || need+=(chromium)
command -v promtool >/dev/null || need+=(prometheus)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing test dependencies: ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
