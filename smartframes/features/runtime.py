"""What runs a backbone: eager PyTorch, or OpenVINO compiled for this CPU.

Both take normalised images ``(B, 3, H, W)`` (:func:`~smartframes.features.backbones.to_input`)
and return the pooled embedding ``(B, E)`` and, for the light backbone, the ImageNet logits
``(B, 1000)``, float32 torch tensors on the extractor's device. OpenVINO ran both backbones at about
twice eager PyTorch's frames/s on a 2-core AVX2 CPU (README, "Speed"); eager PyTorch stays for
CUDA, for CPUs without OpenVINO, and for ``--runtime torch``.

OpenVINO's model is converted once per backbone and input size from the packaged weights and
kept in :func:`cache_dir` (``$SMARTFRAMES_CACHE``, else ``~/.cache/smartframes``), keyed by the
weights' sha256, the input size, the outputs and the OpenVINO version; nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import torch

from ..device import precision, run_precision
from ..errors import SmartframesError
from ..spec import BACKBONES, RUNTIME_ENV, RUNTIMES
from .backbones import EfficientNetLite, load_backbone, weights_path

def cache_dir() -> Path:
    """Where converted models are kept: ``$SMARTFRAMES_CACHE``, else ``~/.cache/smartframes``."""
    root = os.environ.get("SMARTFRAMES_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "smartframes"
    return Path(root)


@functools.cache
def openvino_available() -> bool:
    """Whether OpenVINO can be imported here."""
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_runtime(runtime: str | None, device: torch.device) -> str:
    """The runtime that will run on ``device``: ``openvino`` or ``torch``.

    Raises:
        SmartframesError: an unknown runtime, or OpenVINO asked for where it cannot run.
    """
    runtime = runtime or os.environ.get(RUNTIME_ENV) or "auto"
    if runtime not in RUNTIMES:
        raise SmartframesError(f"unknown runtime {runtime!r}; choose from {', '.join(RUNTIMES)}")
    if runtime == "openvino":
        if device.type != "cpu":
            raise SmartframesError(f"--runtime openvino runs on the CPU, not on {device.type}; use --runtime torch")
        if not openvino_available():
            raise SmartframesError("--runtime openvino: OpenVINO is not installed (pip install openvino)")
    if runtime == "auto":
        return "openvino" if device.type == "cpu" and openvino_available() else "torch"
    return runtime


def available_runtimes(device: torch.device) -> list[str]:
    """The runtimes that can run on ``device`` here, the one ``runtime=None`` picks first."""
    here = ["torch"] + (["openvino"] if device.type == "cpu" and openvino_available() else [])
    default = resolve_runtime(None, device)
    return [default] + [rt for rt in here if rt != default]


class TorchBackbone:
    """A backbone run by eager PyTorch in ``precision_name`` (autocast for bfloat16 / float16)."""

    runtime = "torch"

    def __init__(self, name: str, device: torch.device, precision_name: str, logits: bool):
        self.model: EfficientNetLite = load_backbone(name, device)
        self.device, self.precision_name, self.logits = device, precision_name, logits

    @torch.inference_mode()
    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x (B, 3, H, W) -> embedding (B, E), logits (B, 1000) or None."""
        with precision(self.precision_name, self.device):
            emb = self.model.forward_features(x).float()
            logits = self.model.forward_head(emb).float() if self.logits else None
        return emb, logits


class _Outputs(torch.nn.Module):
    """The graph OpenVINO converts: the embedding, and the logits when asked for."""

    def __init__(self, model: EfficientNetLite, logits: bool):
        super().__init__()
        self.model, self.logits = model, logits

    def forward(self, x):
        emb = self.model.forward_features(x)
        return (emb, self.model.forward_head(emb)) if self.logits else emb


@functools.cache
def _weights_digest(name: str) -> str:
    h = hashlib.sha256()
    with open(weights_path(BACKBONES[name]), "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


@contextlib.contextmanager
def _without_telemetry():
    """Convert without OpenVINO's usage telemetry, which its converter sends, unless the user opted
    out, from a process it forks off a thread: a library converting a model on the user's behalf
    sends nothing, and that fork, taken while another thread holds an FFmpeg scaler with slice
    threads, can hang for good (freeing the scaler in the child), and with it this process's exit."""
    try:
        from openvino_telemetry.utils.sender import TelemetrySender
    except ImportError:  # no telemetry package: nothing is sent
        yield
        return
    send = TelemetrySender.send
    TelemetrySender.send = lambda self, *args, **kwargs: None
    try:
        yield
    finally:
        TelemetrySender.send = send


def converted_model(name: str, resolution: int, logits: bool) -> Path:
    """The OpenVINO IR (``model.xml`` + ``model.bin``) of backbone ``name`` at ``resolution``, any
    batch size: converted from the packaged weights on first use and kept in :func:`cache_dir`.
    Concurrent first uses each convert into a temporary folder; the first to finish is kept."""
    import openvino as ov

    key = f"{name}-{resolution}px-{'logits' if logits else 'features'}-{_weights_digest(name)}-ov{ov.get_version().split('-')[0]}"
    folder = cache_dir() / "openvino" / key
    xml = folder / "model.xml"
    if xml.is_file() and (folder / "model.bin").is_file():
        return xml
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=folder.parent))
    try:
        graph = _Outputs(load_backbone(name), logits).eval()
        example = torch.zeros(1, 3, resolution, resolution)
        with warnings.catch_warnings(), _without_telemetry():  # the trace fixing the "same" padding, as it should; torch.jit's deprecation
            warnings.simplefilter("ignore")
            converted = ov.convert_model(graph, example_input=example, input=[(-1, 3, resolution, resolution)])
        ov.save_model(converted, work / "model.xml", compress_to_fp16=False)
        try:
            os.replace(work, folder)
        except OSError:  # another process got there first (or left a broken copy: take its place)
            if not (xml.is_file() and (folder / "model.bin").is_file()):
                shutil.rmtree(folder, ignore_errors=True)
                os.replace(work, folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return xml


class OpenVINOBackbone:
    """A backbone compiled by OpenVINO for this CPU, on as many threads as torch uses, in float32
    (bfloat16 where the spec asks for it and the CPU computes it)."""

    runtime = "openvino"

    def __init__(self, name: str, resolution: int, precision_name: str, logits: bool):
        import openvino as ov

        self.logits = logits
        cpu_precision = "bf16" if run_precision(precision_name, "cpu") == "bfloat16" else "f32"
        xml = converted_model(name, resolution, logits)
        config = {"INFERENCE_NUM_THREADS": torch.get_num_threads(), "PERFORMANCE_HINT": "LATENCY",
                  "INFERENCE_PRECISION_HINT": cpu_precision}
        core = ov.Core()
        try:
            model = core.compile_model(core.read_model(xml), "CPU", config)
        except RuntimeError as e:  # a damaged cache entry: convert again
            shutil.rmtree(xml.parent, ignore_errors=True)
            try:
                model = core.compile_model(core.read_model(converted_model(name, resolution, logits)), "CPU", config)
            except RuntimeError:
                raise SmartframesError(f"{xml.parent}: OpenVINO cannot compile {name} ({str(e).splitlines()[0]}); "
                                       "use --runtime torch") from None
        self.request = model.create_infer_request()

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x (B, 3, H, W) -> embedding (B, E), logits (B, 1000) or None (copies: the request reuses its buffers)."""
        out = self.request.infer({0: x.contiguous().numpy()})
        emb = torch.from_numpy(out[0].copy())
        return emb, torch.from_numpy(out[1].copy()) if self.logits else None


def load_runner(name: str, resolution: int, device: torch.device, precision_name: str, logits: bool,
                runtime: str | None = None) -> TorchBackbone | OpenVINOBackbone:
    """Backbone ``name`` ready to run images of ``resolution`` on ``device`` with ``runtime``
    (None: ``$SMARTFRAMES_RUNTIME``, else ``auto``)."""
    if resolve_runtime(runtime, device) == "openvino":
        return OpenVINOBackbone(name, resolution, precision_name, logits)
    return TorchBackbone(name, device, precision_name, logits)
