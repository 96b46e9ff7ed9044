"""batchscope from Python: train, evaluate and profile CNNs on NumPy arrays, and find out how
batch size shapes training time, for batchscope's engine and for your own NumPy step.

    import batchscope
    x, y = batchscope.read_idx("data/mnist/train-images-idx3-ubyte"), batchscope.read_idx("data/mnist/train-labels-idx1-ubyte")
    model = batchscope.Model("mnist-cnn", threads=2)
    model.fit(x, y, batch_size=64, epochs=1)            # dict: loss, accuracy, seconds, history
    model.evaluate(xt, yt)["accuracy"]; model.predict(xt[:5])   # probabilities [5, 10]
    batchscope.profile(batch_size=64)                    # the dict `batchscope profile --json` prints

The compiled part (_core) is built by the project's CMake into build/python/batchscope with this
package (run with PYTHONPATH=build/python) for Debian's /usr/bin/python3, and refuses another
interpreter. `python3 -m batchscope.sweep FILE.py:FUNC` (sweep.py) needs no compiled part.
"""
import json
import re
import sys

__all__ = ["Model", "load", "read_idx", "presets", "sweep", "profile", "peak", "Error"]

_CORE_NAMES = {"Model", "load", "read_idx", "presets", "Error"}


def _check_interpreter(cfg):
    """ImportError unless this is the interpreter _core was built for (same version and base
    prefix: a venv of it passes, pyenv's or conda's python3 does not)."""
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    built = ".".join(cfg.python_version.split(".")[:2])
    if here != built or sys.base_prefix != cfg.python_base_prefix:
        raise ImportError(
            f"batchscope was built for {cfg.python_executable} (Python {cfg.python_version}, prefix "
            f"{cfg.python_base_prefix}); this is {sys.executable} (Python {sys.version.split()[0]}, prefix "
            f"{sys.base_prefix}): run it with {cfg.python_executable}, or rebuild with "
            f"cmake -DPython_EXECUTABLE={sys.executable}")


try:
    from . import _build_config
except ImportError:  # the source folder python/, not build/python: no compiled part here
    _build_config = None
_core_error = None
if _build_config is not None:
    _check_interpreter(_build_config)
    from . import _core
    from ._core import Model, load, read_idx, presets, Error  # noqa: F401
else:
    _core_error = ("batchscope.{name} needs the compiled module, which is built into build/python: "
                   "run scripts/build.sh, then use PYTHONPATH=build/python (this package was imported "
                   "from the source folder)")


def __getattr__(name):
    if name in _CORE_NAMES and _core_error:
        raise ImportError(_core_error.format(name=name))
    raise AttributeError(f"module 'batchscope' has no attribute '{name}'")


def _flags(options):
    """Keyword arguments as the command line's flags: batch_sizes=[16, 64] -> --batch-sizes 16,64;
    True -> a bare --flag; False and None -> left out."""
    out = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            out.append(flag)
        elif isinstance(value, (list, tuple)):
            out += [flag, ",".join(str(v) for v in value)]
        else:
            out += [flag, str(value)]
    return out


_FLAG = re.compile(r"--([a-z][a-z0-9-]*)")


def _run(command, options):
    if _core_error:
        raise ImportError(_core_error.format(name=command))
    try:
        return json.loads(_core.run_command_json(command, _flags(options)))
    except ValueError as e:
        # The command's messages name its flags; say them as this function's keywords.
        if isinstance(e, json.JSONDecodeError):
            raise
        raise ValueError(_FLAG.sub(lambda m: m.group(1).replace("-", "_"), str(e))) from None


def sweep(**options):
    """Times training per batch size and explains the curve: the dict `batchscope sweep --json`
    prints. Keywords are its flags (see `batchscope sweep --help`), e.g. batch_sizes=[16, 64, 256],
    images=4096, threads=2, model="mnist-cnn", data="data/mnist", out="report"."""
    return _run("sweep", options)


def profile(**options):
    """Where one training step's time goes, per layer and phase, against the machine's peak: the
    dict `batchscope profile --json` prints. Keywords are its flags, e.g. batch_size=64, threads=2."""
    return _run("profile", options)


def peak(**options):
    """The machine's measured FP32 FMA peak and memory bandwidth: the dict `batchscope peak --json`
    prints (cached for sweep and profile). Keywords are its flags, e.g. threads=2, seconds=0.35."""
    return _run("peak", options)
