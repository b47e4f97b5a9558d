# Shared shell functions: the offline checks of deploy/ (issue 20), run by
# the test command. check_deploy installs, once, podman (apt; podman-compose
# needs its binary, not its engine) and a venv in .peers/deploy/ with
# kubernetes-validate (the Kubernetes schemas), podman-compose, jsonschema
# and PyYAML, then runs scripts/lib/check_deploy.py: every kustomization
# rendered with `kubectl kustomize` and validated (OpenShift's Route against
# deploy/kubernetes/schemas/), deploy/compose.yaml parsed by podman-compose
# with every file it mounts present. Source after setting REPO_ROOT (and
# after postgres.sh, for die).
# shellcheck shell=bash

DEPLOY_ROOT="${DEPLOY_ROOT:-$REPO_ROOT/.peers/deploy}"

check_deploy() {
    command -v kubectl >/dev/null 2>&1 ||
        die "kubectl is missing (it renders the kustomizations offline): install it, then run again"
    if ! command -v podman >/dev/null 2>&1; then
        echo "Installing podman from Debian's packages (once per machine; podman-compose needs it)"
        if [ "$(id -u)" = 0 ]; then
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman >/dev/null 2>&1 ||
                { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman >/dev/null; } ||
                die "cannot install podman with apt-get; install it (apt-get install podman) and run again"
        else
            die "podman is missing and apt-get needs root: run 'sudo apt-get install -y podman', then again"
        fi
    fi
    if [ ! -x "$DEPLOY_ROOT/bin/podman-compose" ] || [ ! -f "$DEPLOY_ROOT/.installed" ]; then
        echo "Installing kubernetes-validate and podman-compose into $DEPLOY_ROOT (once)"
        rm -rf "$DEPLOY_ROOT"
        python3 -m venv "$DEPLOY_ROOT"
        "$DEPLOY_ROOT/bin/pip" install --quiet --disable-pip-version-check \
            'kubernetes-validate==1.37.0' 'podman-compose==1.6.0' 'jsonschema>=4,<5' 'PyYAML>=6,<7'
        touch "$DEPLOY_ROOT/.installed"
    fi
    "$DEPLOY_ROOT/bin/python" "$REPO_ROOT/scripts/lib/check_deploy.py"
}
