# make demo: set up, converge site.yml on a lab target, brute-force it, show the ban.
# make test: lint, unit and filter tests, Molecule scenarios.
# make sanity / make units: ansible-test, not yet in make test: its per-test virtualenvs
# bootstrap pip from a host this lab cannot reach (units run under pytest in make test).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.cache/collections
export ANSIBLE_FORCE_COLOR := 0
# ansible-test wants the collection at ansible_collections/NAMESPACE/NAME, as a real directory
# outside any other git work tree.
CHECKOUT := /tmp/meshmonitor-fail2ban-checkout/ansible_collections/meshmonitor/fail2ban
SCENARIOS ?= default

.PHONY: setup images demo test lint checkout sanity units pytest molecule build clean

setup:
	bash lab/setup.sh

images: setup
	bash lab/build-images.sh

demo: images
	ansible-playbook lab/demo.yml

test: setup lint pytest molecule

lint:
	ansible-lint --profile production

checkout:
	rm -rf $(CHECKOUT) && mkdir -p $(CHECKOUT)
	git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t $(CHECKOUT)

sanity: checkout
	cd $(CHECKOUT) && ansible-test sanity --local --python 3.11

units: checkout
	cd $(CHECKOUT) && ansible-test units --local --python 3.11

pytest:
	PYTHONPATH=$(CURDIR)/.cache/collections python -m pytest -q tests

molecule: images
	for s in $(SCENARIOS); do molecule test -s $$s; done

build: setup
	ansible-galaxy collection build --force

clean:
	bash lab/clean.sh
	rm -rf /tmp/meshmonitor-fail2ban-checkout meshmonitor-fail2ban-*.tar.gz
