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
# stand-in for rayproject/ray; pigz compresses the context exports on every core
BUILD_TOOLS := /usr/bin/buildah /usr/sbin/dockerd /usr/bin/skopeo /usr/bin/docker-registry \
	/usr/sbin/debootstrap /usr/bin/pigz
LAB_ARGS ?=  # extra `jupyter lab` arguments for `make lab`, e.g. LAB_ARGS=--port=9999
# Tools in the venv (jupyter, jlpm, ray) win over anything on the machine.
export PATH := $(abspath $(VENV))/bin:$(PATH)

FRONTEND_SRC := $(shell find src style schema -type f 2>/dev/null) package.json tsconfig.json

.PHONY: help lab test install build dev lint-imports pytest jest ui-test bench check-auth clean k8s-apiserver i18n

help:  ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

lab: build  ## start JupyterLab with the extension, a local Ray head and an artifacts folder
	$(PY) -m jupyter_ray_dev.devlab -- $(LAB_ARGS)

test: build $(STAMPS)/ui-deps $(CHROMIUM)  ## install what is missing, then run every test
	$(MAKE) --no-print-directory lint-imports pytest jest ui-test

install: $(STAMPS)/python  ## the Python environment and the package (editable)

build: jupyter_ray_dev/labextension/package.json  ## the frontend, linked into the venv's Lab

dev: build  ## rebuild the frontend on every change
	$(JLPM) watch

lint-imports: $(STAMPS)/python  ## check the import layers and circles (pyproject's [tool.importlinter])
	$(VENV)/bin/lint-imports

pytest: $(STAMPS)/python $(STAMPS)/kube-apiserver $(BUILD_TOOLS)
	$(PY) -m pytest

# the committed API types must be what openapi.json generates (tsc then holds types.ts to them)
jest: $(STAMPS)/node
	$(JLPM) check:api-types
	$(JLPM) test

ui-test: build $(STAMPS)/ui-deps $(CHROMIUM)
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
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah docker.io skopeo docker-registry debootstrap pigz >/dev/null

clean:  ## remove build output (keeps .venv and node_modules)
	rm -rf lib jupyter_ray_dev/labextension tsconfig.tsbuildinfo $(STAMPS)
