# Shared shell functions: headless Chromium (Debian's package) and its
# drivers from npm (playwright-core drives it over CDP; axe-core checks
# accessibility), for the web pages' browser tests. Source after setting
# REPO_ROOT (and after postgres.sh, for die). install_browser installs
# Chromium with apt when it is missing (once per machine; apt needs root)
# and the npm packages into .peers/browser (reused when present), and sets
# BROWSER_CHROMIUM and BROWSER_MODULES. browser_port picks the port the
# browser test's server listens on, so the OpenID provider can register its
# redirect URI before it starts (OIDC_EXTRA_REDIRECTS).
# shellcheck shell=bash

BROWSER_ROOT="${BROWSER_ROOT:-$REPO_ROOT/.peers/browser}"

install_browser() {
    if ! command -v chromium >/dev/null 2>&1; then
        echo "Installing Chromium from Debian's packages (once per machine)"
        if [ "$(id -u)" = 0 ]; then
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 ||
                { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; } ||
                die "cannot install chromium with apt-get; install it (apt-get install chromium) and run again"
        else
            die "chromium is missing and apt-get needs root: run 'sudo apt-get install -y chromium', then again"
        fi
    fi
    BROWSER_CHROMIUM="$(command -v chromium)"
    mkdir -p "$BROWSER_ROOT"
    if [ ! -f "$BROWSER_ROOT/node_modules/playwright-core/package.json" ] || [ ! -f "$BROWSER_ROOT/node_modules/axe-core/axe.min.js" ]; then
        echo "Installing playwright-core and axe-core into $BROWSER_ROOT (once)"
        (cd "$BROWSER_ROOT" && npm install --no-audit --no-fund --silent playwright-core@1 axe-core@4 >/dev/null)
    fi
    BROWSER_MODULES="$BROWSER_ROOT"
}

browser_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
