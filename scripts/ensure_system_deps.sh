#!/usr/bin/env bash
# Install the system packages the test suite needs, and only those that are missing:
#   - a PostgreSQL server (the suite runs a second time on a throwaway cluster),
#   - Debian's Chromium (the admin's browser tests drive it through Playwright;
#     Playwright's own browser download cannot work on these machines),
#   - a Redis server (the broker-outage tests start and stop their own),
#   - PgBouncer (tests/test_pgbouncer.py starts its own, in transaction mode).
# Safe to run any number of times; a no-op, without `apt-get update`, when all is there.
#
# With arguments, installs instead only the optional tools named, when missing:
#   bash scripts/ensure_system_deps.sh wrk    # the HTTP load generator of bench/api.py
set -euo pipefail

# Optional tools: command name -> Debian package.
declare -A OPTIONAL=([wrk]=wrk)

missing=()
if (($# > 0)); then
    for tool in "$@"; do
        [[ -n ${OPTIONAL[$tool]:-} ]] || {
            echo "ensure_system_deps: unknown tool $tool; known: ${!OPTIONAL[*]}" >&2
            exit 2
        }
        command -v "$tool" >/dev/null || missing+=("${OPTIONAL[$tool]}")
    done
else
    compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
    [[ -x /usr/bin/chromium ]] || missing+=(chromium)
    command -v redis-server >/dev/null || missing+=(redis-server)
    # Debian installs it in /usr/sbin, which a user's PATH may not hold.
    command -v pgbouncer >/dev/null || [[ -x /usr/sbin/pgbouncer ]] || missing+=(pgbouncer)
    command -v make >/dev/null || missing+=(make)
    # Debian's own python3 needs python3-venv for `python3 -m venv` (pyenv/python.org builds have it).
    if command -v python3 >/dev/null && ! python3 -c 'import ensurepip, venv' 2>/dev/null \
        && [[ "$(command -v python3)" == /usr/bin/python3 ]]; then
        missing+=(python3-venv)
    fi
fi

if ((${#missing[@]} == 0)); then
    exit 0
fi

if ((EUID != 0)); then
    echo "ensure_system_deps: missing system packages: ${missing[*]}" >&2
    echo "ensure_system_deps: install them as root, e.g.:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

echo "ensure_system_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive

# Keep package installs from starting services (the Debian postgresql package
# would otherwise start its own "main" cluster on port 5432). Nothing here uses
# that cluster: the tests start their own on a free port (scripts/throwaway_pg.py).
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
fi

apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"

if (($# > 0)); then
    for tool in "$@"; do
        command -v "$tool" >/dev/null \
            || { echo "ensure_system_deps: no $tool after install" >&2; exit 1; }
    done
else
    compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null \
        || { echo "ensure_system_deps: no PostgreSQL server after install" >&2; exit 1; }
    [[ -x /usr/bin/chromium ]] \
        || { echo "ensure_system_deps: no /usr/bin/chromium after install" >&2; exit 1; }
    command -v redis-server >/dev/null \
        || { echo "ensure_system_deps: no redis-server after install" >&2; exit 1; }
    command -v pgbouncer >/dev/null || [[ -x /usr/sbin/pgbouncer ]] \
        || { echo "ensure_system_deps: no pgbouncer after install" >&2; exit 1; }
fi
echo "ensure_system_deps: done"
