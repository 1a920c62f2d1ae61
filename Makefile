# make demo: set up, converge site.yml on a lab target, brute-force it, show the ban.
# make test: lint, ansible-test sanity and units, filter tests, Molecule scenarios.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.cache/collections
export ANSIBLE_FORCE_COLOR := 0
# ansible-test wants the collection at ansible_collections/NAMESPACE/NAME, as a real directory
# outside any other git work tree.
CHECKOUT := /tmp/meshmonitor-fail2ban-checkout/ansible_collections/meshmonitor/fail2ban
# Longest first: with two lanes, the last to start are the shortest.
SCENARIOS ?= default fleet proxy adversarial app reporting
# Scenarios run side by side (own hosts, networks and subnets each); most of a scenario's time
# is spent waiting on fail2ban's polls and timeouts, not on the CPU. -O prints each one's whole
# output when it ends; -k runs the rest after a failure so one run reports every failing scenario.
MOLECULE_LANES ?= 2

.PHONY: setup images demo test lint checkout sanity units pytest molecule bench build clean docs

setup:
	bash lab/setup.sh

images: setup
	bash lab/build-images.sh

# The lab's ansible.cfg: its inventory and collection path are for the lab only.
demo: images
	ANSIBLE_CONFIG=lab/ansible.cfg ansible-playbook lab/demo.yml

test: setup lint sanity units pytest molecule

lint:
	ansible-lint --profile production

# pip version ansible-test (ansible-core 2.19) bootstraps into its virtualenvs. Its get-pip
# script comes from a host this lab cannot reach; tests/ansible-test/get_pip.py stands in.
ANSIBLE_TEST_PIP := 24.2
ANSIBLE_TEST_GET_PIP := $(HOME)/.ansible/test/cache/get_pip_$(subst .,_,$(ANSIBLE_TEST_PIP)).py

checkout:
	install -D -m 0644 tests/ansible-test/get_pip.py $(ANSIBLE_TEST_GET_PIP)
	rm -rf $(CHECKOUT) && mkdir -p $(CHECKOUT)
	git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t $(CHECKOUT)

sanity: checkout
	cd $(CHECKOUT) && ansible-test sanity --venv --python 3.11 --requirements

units: checkout
	cd $(CHECKOUT) && ansible-test units --venv --python 3.11 --requirements

# Role variable docs: README sections and defaults/main.yml comments, from meta/argument_specs.yml.
docs:
	for role in roles/*/; do ansible-docsmith generate --readme --defaults $$role || exit 1; done

# The filter's samples through real fail2ban-regex, the roles' documentation agreeing with
# their defaults, and the built tarball installed and used by FQCN (plugin unit tests run under
# `make units`).
pytest:
	python -m pytest -q tests/filter tests/roles tests/collection

molecule: images
	$(MAKE) --no-print-directory -k -O -j$(MOLECULE_LANES) $(addprefix scenario-,$(SCENARIOS))

scenario-%:
	@start=$$(date +%s); rc=0; molecule test -s $* || rc=$$?; \
	  echo "scenario $* rc=$$rc $$(( $$(date +%s) - start ))s"; exit $$rc

# Figures as ratios against a baseline measured in the same run; not part of make test.
bench: images
	python -m pip install -q matplotlib
	bash lab/unpack-fail2ban.sh trixie .cache/fail2ban-trixie
	{ echo "# Benchmarks (make bench)"; echo; python bench/filter_bench.py; echo; \
	  python bench/ignoreip_bench.py; echo; ANSIBLE_CONFIG=lab/ansible.cfg python bench/lab_bench.py; echo; \
	  python bench/ban_wave_bench.py; echo; python bench/fleet_bench.py; } | tee bench/RESULTS.md

build: setup
	ansible-galaxy collection build --force

clean:
	bash lab/clean.sh
	rm -rf /tmp/meshmonitor-fail2ban-checkout meshmonitor-fail2ban-*.tar.gz
