"""The hand-written stubs match the native module and type-check real use.

Needs mypy (pinned in scripts/lib/tools.sh PY_REQS).
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    # Run outside the source tree so the installed package (with its
    # compiled module) is what gets checked, not bindings/python/python.
    env = {**os.environ, "MYPY_CACHE_DIR": str(Path(tempfile.gettempdir()) / "ferrets-mypy-cache")}
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=HERE, env=env, capture_output=True, text=True, timeout=120
    )


def test_mypy_strict_on_usage_and_tests() -> None:
    files = ["typing_usage.py", "test_table.py", "test_cache.py", "test_codec.py", "test_model.py", "test_threads.py", "test_named.py", "test_pool.py", "test_snapshot.py"]
    r = run("mypy", "--strict", *files)
    assert r.returncode == 0, r.stdout + r.stderr


def test_stubtest() -> None:
    r = run("mypy.stubtest", "ferrets._native", "ferrets._views")
    assert r.returncode == 0, r.stdout + r.stderr


def test_usage_file_runs() -> None:
    r = subprocess.run([sys.executable, str(HERE / "typing_usage.py")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
