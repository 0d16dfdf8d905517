#!/usr/bin/env bash
# Installs everything logstream needs on a fresh Debian machine, idempotently:
# apt packages, the Python virtualenv (.venv) and the JVM components from Maven Central (.jvm/lib).
# The second run only checks stamps and takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

# iproute2 and iptables make the cluster's hosts (network namespaces, plugins/logstream/cluster/)
APT_PACKAGES=(openjdk-17-jdk-headless maven libkrb5-dev docker-compose chromium chromium-driver gcc iproute2 iptables openssh-server)
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3

step() { printf '\n== %s\n' "$*"; }

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  step "apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

stamp_ok() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }

req_hash=$(cat requirements.txt constraints.txt | sha256sum | cut -c1-16)
if ! stamp_ok .venv/.logstream-stamp "$req_hash"; then
  step "Python virtualenv .venv ($("$PYTHON" --version))"
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/pip install -q --upgrade pip wheel setuptools
  .venv/bin/pip install -q -r requirements.txt -c constraints.txt
  echo "$req_hash" > .venv/.logstream-stamp
fi

pom_hash=$(cat include/jvm/pom.xml include/jvm/*/pom.xml | sha256sum | cut -c1-16)
if ! stamp_ok .jvm/.logstream-stamp "$pom_hash"; then
  step "JVM components from Maven Central into .jvm/lib (include/jvm/pom.xml)"
  rm -rf .jvm/lib
  mvn -B -q -f include/jvm/pom.xml package
  # flux-core's parent pom is not on Maven Central, so it cannot be a dependency: fetch the shaded jar alone
  storm_version=$(sed -n 's:.*<storm.version>\(.*\)</storm.version>.*:\1:p' include/jvm/pom.xml)
  mvn -B -q dependency:get -Dartifact="org.apache.storm:flux-core:$storm_version" -Dtransitive=false
  mkdir -p .jvm/lib/storm-flux
  cp "$HOME/.m2/repository/org/apache/storm/flux-core/$storm_version/flux-core-$storm_version.jar" .jvm/lib/storm-flux/
  echo "$pom_hash" > .jvm/.logstream-stamp
fi
# TAILDIR with line ids (include/flume/java) for the agents, local or in docker-compose.yaml
PYTHONPATH=plugins .venv/bin/python -c \
  'from logstream.stack.config import StackConfig; from logstream.stack.flume import patched_classes; patched_classes(StackConfig())'
echo "setup ok: $(.venv/bin/python --version), $(java -version 2>&1 | head -1), jars in .jvm/lib: $(ls .jvm/lib | tr '\n' ' ')"
