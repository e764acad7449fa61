"""pycrox behaves the same under ``python -O``: no behaviour hangs on an ``assert`` statement."""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import sys, tempfile, pathlib
    from hypothesis import HealthCheck, given, settings
    import pycrox
    from pycrox.testing import assert_lossless, strategies

    assert False, "this line must not run under -O"  # proves the interpreter strips asserts
    root = pathlib.Path(tempfile.mkdtemp())
    count = 0

    @settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(da=strategies.model_arrays())
    def round_trip(da):
        global count
        count += 1
        path = root / f"rt{count}.h5"
        pycrox.to_nsid(da, path)
        with pycrox.open(path) as back:
            assert_lossless(back.load(), da)

    round_trip()
    try:  # the testing kit itself must still raise under -O
        assert_lossless(pycrox.from_array([1.0, 2.0], dims="x"), pycrox.from_array([1.0, 3.0], dims="x"))
    except AssertionError:
        print(f"ok {count}")
    else:
        sys.exit("assert_lossless did not raise under -O")
    """
)


def test_nsid_round_trip_of_the_strategy_passes_under_python_O(tmp_path):
    result = subprocess.run(
        [sys.executable, "-O", "-c", SCRIPT], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().startswith("ok "), result.stdout
    assert int(result.stdout.split()[-1]) >= 10
