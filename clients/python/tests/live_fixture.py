"""What the tests against a live service share: the package and its examples importable from a
checkout, the service's address (PRM_URL; unset: the live tests skip), a trace of the
arithmetic domain with one borrow mistake, and a way to run an example's main."""
import io
import os
import sys
from contextlib import redirect_stdout
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "examples"))

URL = os.environ.get("PRM_URL", "")
PROMPT = "48+27-39*2"
STEPS = ["48+27=75", "75-39=44", "44*2=88", "Answer: 88"]


def example_output(example) -> list:
    """Runs `example.main()` against PRM_URL; returns its exit status and the lines it printed."""
    os.environ["PRM_URL"] = URL
    out = io.StringIO()
    with redirect_stdout(out):
        status = example.main()
    return [status, out.getvalue().splitlines()]
