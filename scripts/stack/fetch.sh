#!/usr/bin/env bash
# Fetches Kafka, Kafka Connect and the Debezium plugins into .stack/ with Maven (stack/pom.xml).
# Quick when already fetched: Maven is skipped while .stack/.fetched holds the hash of the pom
# (and of KAFKA_VERSION, if set) and the folders are there. `fetch.sh --force` fetches again.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

POM=$REPO_ROOT/stack/pom.xml
MARKER=$STACK_DIR/.fetched
force=0
[[ ${1:-} == --force ]] && force=1

want=$( { cat "$POM"; printf 'KAFKA_VERSION=%s\n' "${KAFKA_VERSION:-}"; } | sha256sum | cut -d' ' -f1)
have=$(cat "$MARKER" 2>/dev/null || true)
if ((!force)) && [[ $want == "$have" ]] && compgen -G "$LIBS_DIR/kafka_2.13-*.jar" >/dev/null &&
  [[ -d $PLUGINS_DIR/debezium-connector-postgres && -d $PLUGINS_DIR/debezium-connector-mysql && -d $PLUGINS_DIR/debezium-connector-mariadb ]]; then
  say "fetch: $STACK_DIR is up to date with stack/pom.xml ($(ls "$LIBS_DIR"/kafka_2.13-*.jar | sed 's/.*kafka_2.13-\(.*\)\.jar/Kafka \1/'))"
  exit 0
fi

command -v mvn >/dev/null || die "Maven (mvn) is not installed: apt-get install maven, or fetch on a machine that has it"
if pid_of broker >/dev/null || pid_of connect >/dev/null; then
  die "the stack is running from .stack/: stop it first (scripts/stack/stop.sh), then fetch"
fi

say "fetch: downloading Kafka + Connect + Debezium plugins with Maven (first time: ~140 MB)..."
# A changed version must not leave old jars beside the new ones on the classpath.
rm -rf "$LIBS_DIR" "$PLUGINS_DIR" "$STACK_DIR/.unpack-markers" "$MARKER"
mkdir -p "$STACK_DIR"
mvn_args=(-q -B -Dstyle.color=never -f "$POM" "-Dstack.dir=$STACK_DIR" package)
[[ -n ${KAFKA_VERSION:-} ]] && mvn_args+=("-Dkafka.version=$KAFKA_VERSION")
start=$SECONDS
# (Maven 3.8 prints colour resets even in quiet batch mode: strip escape sequences)
mvn "${mvn_args[@]}" 2>&1 | sed $'s/\e\\[[0-9;]*m//g' || die "Maven failed (see above); is Maven Central reachable?"
printf '%s\n' "$want" >"$MARKER"
say "fetch: done in $((SECONDS - start))s: $(ls "$LIBS_DIR" | wc -l) jars in $LIBS_DIR, plugins: $(ls "$PLUGINS_DIR" | tr '\n' ' ')"
