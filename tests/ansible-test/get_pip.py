"""Stand-in for get-pip.py, used by ansible-test to put pip into the virtualenvs of its sanity
and unit tests. ansible-test downloads that script from a host this lab cannot reach; this one
bootstraps pip from Python's own ensurepip and then lets pip install what ansible-test asked for
(pip pinned to its version) from the package index. `make sanity` / `make units` put it in
ansible-test's cache under the name ansible-test looks for.
"""
import ensurepip
import subprocess
import sys

# get-pip.py options that are not pip-install options.
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}

ensurepip.bootstrap()
arguments = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + arguments))
