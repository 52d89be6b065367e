# The README's two commands: `make lab` and `make test`. Both install what is missing
# (a project-local .venv, node_modules, Chromium from Debian) and nothing else.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
JLPM := $(VENV)/bin/jlpm
STAMPS := .make
CHROMIUM := /usr/bin/chromium
# promote's real image builds: buildah and Debian's dockerd (docker.io) build, docker-registry
# is the registry on loopback, skopeo inspects what was pushed, debootstrap makes the local
# stand-in for rayproject/ray
BUILD_TOOLS := /usr/bin/buildah /usr/sbin/dockerd /usr/bin/skopeo /usr/bin/docker-registry \
	/usr/sbin/debootstrap
LAB_ARGS ?=  # extra `jupyter lab` arguments for `make lab`, e.g. LAB_ARGS=--port=9999
# The deploy tiers: the wheel installed into clean virtualenvs of Debian's python3 (a Python
# uid 1000 can run: the venv's own may live under /root, mode 700, and it is the Python of
# the stand-in head image), from a wheelhouse resolved for it, so every install is offline.
SYS_PYTHON := /usr/bin/python3
WHEELHOUSE := build/wheelhouse
WHEEL_VENV := build/wheel-venv
# the pod tier's namespaces: unshare, nsenter, setpriv (util-linux) and ip (iproute2)
POD_TOOLS := /usr/sbin/ip $(SYS_PYTHON)
DEPLOY_MARKERS := wheel or image or unprivileged
# Tools in the venv (jupyter, jlpm, ray) win over anything on the machine.
export PATH := $(abspath $(VENV))/bin:$(PATH)

FRONTEND_SRC := $(shell find src style schema -type f 2>/dev/null) package.json tsconfig.json
# what the wheel is made of, its metadata too (README.md is the long description)
PACKAGE_SRC := $(shell find jupyter_ray_dev jupyter-config -type f -not -path '*/labextension/*' \
	-not -path '*/__pycache__/*' -not -name _version.py 2>/dev/null) pyproject.toml install.json \
	README.md LICENSE

.PHONY: help lab test install build dev lint-imports pytest jest ui-test bench check-auth clean \
	k8s-apiserver i18n dist deploy-test ui-test-wheel

help:  ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

lab: build  ## start JupyterLab with the extension, a local Ray head and an artifacts folder
	$(PY) -m jupyter_ray_dev.devlab -- $(LAB_ARGS)

test: build $(STAMPS)/ui-deps $(CHROMIUM)  ## install what is missing, then run every test
	$(MAKE) --no-print-directory lint-imports pytest jest ui-test deploy-test ui-test-wheel

install: $(STAMPS)/python  ## the Python environment and the package (editable)

build: jupyter_ray_dev/labextension/package.json  ## the frontend, linked into the venv's Lab

dev: build  ## rebuild the frontend on every change
	$(JLPM) watch

lint-imports: $(STAMPS)/python  ## check the import layers and circles (pyproject's [tool.importlinter])
	$(VENV)/bin/lint-imports

# pyproject's addopts leave out the deploy tiers' markers, which deploy-test selects
pytest: $(STAMPS)/python $(STAMPS)/kube-apiserver $(BUILD_TOOLS)
	$(PY) -m pytest

dist: $(STAMPS)/dist  ## the sdist, and the wheel built from it, in dist/

# The wheel as users install it (tests/test_wheel.py), run as uid 1000 the way the head pod
# runs it (test_unprivileged.py), and in the head image (test_head_image.py)
deploy-test: $(STAMPS)/wheelhouse $(BUILD_TOOLS) $(POD_TOOLS)  ## the wheel installed, the head image, uid 1000
	$(PY) -m pytest -m "$(DEPLOY_MARKERS)"

# Galata's smoke set against JupyterLab from the wheel's clean virtualenv
ui-test-wheel: $(STAMPS)/wheelhouse $(STAMPS)/ui-deps $(CHROMIUM)
	cd ui-tests && CI=$${CI:-} RAY_DEV_WHEEL_VENV=$(abspath $(WHEEL_VENV)) \
		../$(JLPM) playwright test -c playwright.wheel.config.js

# the committed API types must be what openapi.json generates (tsc then holds types.ts to them)
jest: $(STAMPS)/node
	$(JLPM) check:api-types
	$(JLPM) test

# The Galata server builds promotions for real (tests/ui_builder.py): buildah, the registry
# and the stand-in for rayproject/ray, whose rootfs is made here (cached; about a minute
# the first time) rather than inside the server's start-up deadline
ui-test: build $(STAMPS)/ui-deps $(CHROMIUM) $(BUILD_TOOLS)
	$(PY) tests/promote_base.py
	cd ui-tests && CI=$${CI:-} ../$(JLPM) playwright test

bench: build $(BUILD_TOOLS) $(STAMPS)/ui-deps $(CHROMIUM)  ## benchmarks (not tests): start-up cost, storage listing, jobs, promote
	$(PY) bench/startup.py
	$(PY) bench/storage.py
	node bench/storage_browser.js
	$(PY) bench/storage_hang.py
	$(PY) bench/jobs.py
	$(PY) bench/promote.py

# Extracts with jupyterlab-translate, merges into each locale's .po (new strings empty,
# changed ones fuzzy: translate them, then run it again), compiles the .mo and .json.
i18n: $(STAMPS)/python  ## re-extract the frontend's strings into the translations, compile them
	$(PY) scripts/i18n.py

k8s-apiserver: $(STAMPS)/kube-apiserver  ## kube-apiserver from Debian's source + etcd, for the Kubernetes tests

# Built once per machine (~/.cache/jupyter-ray-dev/kube-apiserver-<version>): the script
# returns at once when the binary is cached, and installs etcd-server when missing.
$(STAMPS)/kube-apiserver: tests/k8s/build-apiserver.sh
	tests/k8s/build-apiserver.sh
	@mkdir -p $(STAMPS) && touch $@

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# The package is installed editable without its build hook: the frontend is built
# by the `build` target below, which Make can tell is up to date.
$(STAMPS)/python: pyproject.toml package.json | $(VENV)/bin/python
	$(PIP) install -q -U pip
	$(PIP) install -q "hatchling>=1.5" "editables>=0.5" "hatch-nodejs-version>=0.3.2" "hatch-jupyter-builder>=0.9" "jupyterlab>=4.6,<5"
# storage test deps in an order pip resolves at once: s3fs first (its aiobotocore pins
# botocore exactly), then moto with botocore held at that version; all three in one call
# backtracks over botocore/boto3 releases for 10+ minutes
	$(PIP) install -q "s3fs>=2024.6" "gcsfs>=2024.6"
	$(PIP) install -q "moto[server]>=5" "botocore==$$($(PY) -c 'from importlib.metadata import version; print(version("botocore"))')"
# the frontend build also writes labextension/install.json, which the wheel's shared-data
# adds from the top-level install.json: after a build, hatchling refuses the duplicate
	rm -f jupyter_ray_dev/labextension/install.json
	SKIP_JUPYTER_BUILDER=1 $(PIP) install -q --no-build-isolation -e ".[test]"
	$(VENV)/bin/jupyter server extension enable --sys-prefix jupyter_ray_dev
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/node: package.json yarn.lock $(STAMPS)/python
	$(JLPM) install
	@mkdir -p $(STAMPS) && touch $@

jupyter_ray_dev/labextension/package.json: $(STAMPS)/node $(FRONTEND_SRC)
	$(JLPM) build
	$(VENV)/bin/jupyter labextension develop --overwrite .
	@touch $@

# As the extension template releases: the sdist (its frontend built by the build hook with
# `jlpm build:prod`, hence the fresh labextension folder), then the wheel from the sdist.
# --no-isolation: the build requirements are checked in .venv, where `install` put them,
# instead of being installed into two throwaway environments (~3 min here).
$(STAMPS)/dist: $(VENV)/bin/pyproject-build $(STAMPS)/node $(FRONTEND_SRC) $(PACKAGE_SRC)
	rm -rf dist jupyter_ray_dev/labextension
	$(PY) -m build --no-isolation --outdir dist .
	@mkdir -p $(STAMPS) && touch $@

$(VENV)/bin/pyproject-build: | $(STAMPS)/python
	$(PIP) install -q "build>=1.2"

# One clean virtualenv with the wheel, JupyterLab and Ray for the Galata smoke set, and the
# wheelhouse it was installed from (pip, the wheel and its extras, JupyterLab, Ray) for the
# image and uid-1000 tiers. Resolved by the venv's pip running under SYS_PYTHON (its cache
# serves what the main install downloaded); installed with --no-index.
$(STAMPS)/wheelhouse: $(STAMPS)/dist | $(SYS_PYTHON)
	rm -rf $(WHEELHOUSE) $(WHEEL_VENV)
	$(SYS_PYTHON) -m venv --without-pip $(WHEEL_VENV)
	$(PIP) --python $(WHEEL_VENV)/bin/python wheel -q -w $(WHEELHOUSE) pip \
		"$$(ls dist/*.whl)[ray,kubernetes,cloud]" "jupyterlab>=4.6,<5"
	$(PIP) --python $(WHEEL_VENV)/bin/python install -q --no-index --find-links $(WHEELHOUSE) \
		pip "jupyter_ray_dev[ray]" "jupyterlab>=4.6,<5"
	@touch $@

$(STAMPS)/ui-deps: ui-tests/package.json ui-tests/yarn.lock $(STAMPS)/python
	cd ui-tests && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 ../$(JLPM) install
	@mkdir -p $(STAMPS) && touch $@

# Debian's Chromium: Playwright's own browser download cannot be reached here.
$(CHROMIUM):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

# Debian's image-build tools, for the promote tests (one apt call for all). Installing
# docker.io starts no engine here (no systemd): the tests start their own dockerd.
$(BUILD_TOOLS) &:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah docker.io skopeo docker-registry debootstrap >/dev/null

# Debian's python3 and iproute2 (both present on most machines)
$(POD_TOOLS) &:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 iproute2 >/dev/null

clean:  ## remove build output (keeps .venv and node_modules)
	rm -rf lib jupyter_ray_dev/labextension tsconfig.tsbuildinfo $(STAMPS) dist build
