#!/usr/bin/env bash
# make bench: installs what it needs (Debian packages, the bench's own npm packages),
# then runs every scenario against every target and prints/saves one markdown table.
set -euo pipefail
cd "$(dirname "$0")"
bash ./ensure-tools.sh
{ [ -d node_modules/http-proxy ] && [ -d node_modules/supergateway ] && [ -d node_modules/mcp-remote ]; } || npm ci --no-audit --no-fund
node parser-bench.mjs 200000 | tee results/parser-latest.md
node bench.mjs "$@"
# A stdio server behind Streamable HTTP: shadowcat's bridge against supergateway, its own table.
node bridge-bench.mjs
# A stdio client to a remote server: forward stdio --url against mcp-remote, its own table.
node remote-bench.mjs
