"""A CUDA device that computes on the CPU, for device-placement tests where no GPU is.

Inside `fake_cuda()`, a tensor created on or moved to 'cuda' is an ordinary CPU tensor that
the mode remembers as a CUDA one. Every torch call is checked as CUDA would check it: one
device per operation (a 0-dim CPU tensor counts as a scalar, as in CUDA), index tensors may
stay on the CPU, `copy_` and basic-slice assignment cross devices, `numpy()` refuses a device
tensor, and a random draw for a device tensor refuses a CPU generator. Results are tagged
with their device, and `Tensor.device` / `is_cuda` report it, so code that asks a tensor
where it lives gets the answer it would get on a GPU.

A tensor that no torch call inside the mode produced (made before it, by `torch.load`, or by
the autograd engine, such as the incoming gradient of a custom `backward`) has no known
device and is checked against nothing; a parameter's `.grad` takes its parameter's device.
Build what a test checks inside the mode.

The arithmetic is the CPU's own, so a run under the mode gives the CPU's numbers bit for
bit; what the mode adds is the errors a GPU would raise, `transfers`: every device to
host copy or read (`.cpu()`, `.item()`, `.tolist()`, `bool()`, ...), each a synchronisation
on a real GPU, and `uploads`: every host to device move, with its bytes, dtype, and whether
it came from page-locked ("pinned") memory without blocking the host (`pin_memory()` is
emulated as a copy that the mode remembers as pinned).

Not emulated: kernels that only exist on one device, CUDA's own rounding, streams, memory.
`torch.load(map_location='cuda')` fails here as it does on a CPU-only build.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any, NamedTuple

import torch
from torch.overrides import TorchFunctionMode
from torch.utils.weak import WeakIdKeyDictionary

CUDA = torch.device("cuda", 0)
CPU = torch.device("cpu")

# Reads of a device tensor's values on the host: each one waits for the GPU.
_HOST_READS = {"item", "tolist", "__bool__", "__int__", "__float__", "__index__", "__complex__"}
# Calls whose tensors may legitimately live on different devices.
_MIXED_OK = {"copy_", "_has_compatible_shallow_copy_type", "is_same_size", "__reduce_ex__",
             "_group_tensors_by_device_and_dtype", "__repr__", "__format__", "__str__"}


class Upload(NamedTuple):
    """One host to device move: what crossed and how. A real GPU copies from pageable memory
    through a staging buffer and blocks the host; from pinned memory with `non_blocking` it
    returns at once and the copy overlaps whatever the host does next."""

    nbytes: int
    dtype: torch.dtype
    pinned: bool
    non_blocking: bool


class FakeCudaMode(TorchFunctionMode):
    """The torch-function mode behind `fake_cuda()` (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self._devices: WeakIdKeyDictionary = WeakIdKeyDictionary()  # tensor -> CPU or CUDA
        self.transfers: list[str] = []  # one entry per device -> host copy or read
        self.uploads: list[Upload] = []  # one entry per host -> device move
        self._pinned: WeakIdKeyDictionary = WeakIdKeyDictionary()  # host tensors in page-locked memory

    # ---- tags
    def device_of(self, t: torch.Tensor) -> torch.device | None:
        """The emulated device of `t`; None where no call inside the mode made it."""
        return self._devices.get(t)

    def _on_cuda(self, t: Any) -> bool:
        return isinstance(t, torch.Tensor) and self._devices.get(t) == CUDA

    def _tag(self, value: Any, device: torch.device | None) -> Any:
        if device is not None:
            for t in _tensors(value):
                self._devices[t] = device
        return value

    # ---- dispatch
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        name = _name(func)
        if name.endswith(".__get__"):
            return self._getter(name, func, args)
        if name.endswith(".__set__"):
            return self._setter(name, func, args)
        if name in ("to", "cuda", "cpu"):
            return self._move(name, func, args, kwargs)
        if name == "pin_memory":  # a CPU-only torch refuses it: a copy, remembered as pinned
            pinned = self._tag(args[0].clone(), CPU)
            self._pinned[pinned] = True
            return pinned
        if name == "is_pinned":
            return args[0] in self._pinned
        if "device" in kwargs:
            return self._factory(name, func, args, kwargs)
        if name in ("numpy", "__array__") and self._on_cuda(args[0]):
            raise TypeError("can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy "
                            "the tensor to host memory first. (fake_cuda)")
        if name in _HOST_READS and self._on_cuda(args[0]):
            self.transfers.append(name)
        if name == "__getitem__":
            return self._tag(func(*args, **kwargs), self._index_device(args[0], args[1], name))
        if name == "__setitem__":
            return self._setitem(func, args, kwargs)
        if name == "copy_":
            dst, src = args[0], args[1]
            if self._on_cuda(src) and self.device_of(dst) == CPU:
                self.transfers.append("copy_")
            return func(*args, **kwargs)
        device = None if name in _MIXED_OK else self._common_device(name, args, kwargs)
        self._check_generator(name, kwargs, device)
        return self._tag(func(*args, **kwargs), device)

    def _getter(self, name: str, func, args) -> Any:
        owner = args[0]
        on_cuda = self._on_cuda(owner)
        if name == "device.__get__":
            return CUDA if on_cuda else func(*args)
        if name == "is_cuda.__get__":
            return on_cuda or func(*args)
        if name == "is_cpu.__get__":
            return not on_cuda and func(*args)
        result = func(*args)  # .grad, .data, .T, ...: a tensor on its owner's device
        return self._tag(result, self.device_of(owner)) if isinstance(result, torch.Tensor) else result

    def _setter(self, name: str, func, args) -> Any:
        owner, value = args[0], args[1]
        if name == "grad.__set__" and isinstance(value, torch.Tensor) and None not in (
                self.device_of(value), self.device_of(owner)) and self.device_of(value) != self.device_of(owner):
            raise RuntimeError("assigned grad has data located on a different device (fake_cuda)")
        result = func(*args)
        if name == "data.__set__" and isinstance(value, torch.Tensor):  # what `Module.to` does to parameters
            if self.device_of(value) is None:
                self._devices.pop(owner, None)
            else:
                self._devices[owner] = self.device_of(value)
        return result

    def _move(self, name: str, func, args, kwargs) -> torch.Tensor:
        t, rest = args[0], args[1:]
        source = self.device_of(t) or CPU  # a tensor of unknown device: a real CPU one
        dtype = None
        copy = bool(kwargs.pop("copy", False))
        non_blocking = bool(kwargs.get("non_blocking", False))
        if name == "cuda":
            target = CUDA
        elif name == "cpu":
            target = CPU
        elif rest and isinstance(rest[0], torch.Tensor):  # .to(other): other's device and dtype
            target, dtype = self.device_of(rest[0]) or CPU, rest[0].dtype
        else:
            parsed_device, dtype, non_blocking, _ = torch._C._nn._parse_to(*rest, **kwargs)
            target = source if parsed_device is None else parsed_device
        target = CUDA if target.type == "cuda" else CPU
        out = t if dtype is None or dtype == t.dtype else t.to(dtype)
        if target != source or copy:
            out = out.clone() if out is t else out  # a move allocates on the other device
            if source.type == "cuda" and target.type == "cpu":
                self.transfers.append(name)
            if source.type == "cpu" and target.type == "cuda":
                self.uploads.append(Upload(t.numel() * t.element_size(), t.dtype, t in self._pinned,
                                           bool(non_blocking)))
        return self._tag(out, target)

    def _factory(self, name: str, func, args, kwargs) -> Any:
        device = kwargs.pop("device")
        device = CPU if device is None else torch.device(device)
        if device.type == "cuda":
            kwargs["device"] = CPU
            self._check_generator(name, kwargs, CUDA)
            return self._tag(func(*args, **kwargs), CUDA)
        if device.type != "cpu":
            raise RuntimeError(f"fake_cuda emulates 'cpu' and 'cuda' only, got {device}")
        kwargs["device"] = device
        return self._tag(func(*args, **kwargs), CPU)

    def _check_generator(self, name: str, kwargs: dict, device: torch.device) -> None:
        gen = kwargs.get("generator")
        if gen is not None and device == CUDA and gen.device.type != "cuda":
            raise RuntimeError(f"Expected a 'cuda' device type for generator but found '{gen.device.type}' "
                               f"(fake_cuda, in {name})")

    def _index_device(self, t: torch.Tensor, index: Any, name: str) -> torch.device:
        """CUDA indexes a device tensor with CPU or device indices, a CPU tensor with CPU ones."""
        own = self.device_of(t)
        for i in _tensors(index):
            if own is not None and self.device_of(i) == CUDA != own:
                raise RuntimeError(f"indices should be either on cpu or on the same device as the indexed "
                                   f"tensor ({own}) (fake_cuda, in {name})")
        return own

    def _setitem(self, func, args, kwargs) -> Any:
        t, index, value = args[0], args[1], args[2]
        own = self._index_device(t, index, "__setitem__")
        if isinstance(value, torch.Tensor):
            advanced = any(True for _ in _tensors(index)) or _has_list(index)
            moved = self.device_of(value)
            if advanced and None not in (own, moved) and moved != own and not (value.dim() == 0 and moved == CPU):
                raise RuntimeError(f"Index put requires the source and destination on one device, got {moved} "
                                   f"and {own} (fake_cuda)")
            if not advanced and moved == CUDA and own != CUDA:
                self.transfers.append("__setitem__")
        return func(*args, **kwargs)

    def _common_device(self, name: str, args, kwargs) -> torch.device | None:
        """The one device of the call's tensors (CPU when it has none, None when none is
        known); an error where two are known."""
        devices, seen = set(), False
        for t in _tensors((args, kwargs)):
            seen = True
            d = self.device_of(t)
            if d is None or (d == CPU and t.dim() == 0):
                continue  # unknown, or a CPU scalar, which goes with any device
            devices.add(d)
        if len(devices) > 1:
            raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                               f"{', '.join(sorted(str(d) for d in devices))}! (fake_cuda, in {name})")
        if devices:
            return devices.pop()
        scalars = [self.device_of(t) for t in _tensors((args, kwargs)) if self.device_of(t) is not None]
        return scalars[0] if scalars else (None if seen else CPU)


def _name(func) -> str:
    name = getattr(func, "__name__", str(func))
    if name in ("__get__", "__set__", "__delete__"):
        owner = getattr(func, "__self__", None)
        return f"{getattr(owner, '__name__', owner)}.{name}"
    return name


def _tensors(value: Any) -> Iterator[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v)


def _has_list(index: Any) -> bool:
    if isinstance(index, list):
        return True
    return isinstance(index, tuple) and any(isinstance(i, list) for i in index)


@contextlib.contextmanager
def fake_cuda() -> Iterator[FakeCudaMode]:
    """Emulate one CUDA device on the CPU (see the module docstring); `torch.cuda.is_available()`
    says True inside. Torch's global determinism settings (and `CUBLAS_WORKSPACE_CONFIG`)
    are restored on exit, since code that trains on a GPU switches them on."""
    saved = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.utils.deterministic.fill_uninitialized_memory)
    cublas = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    real_available, real_parameter = torch.cuda.is_available, torch.nn.Parameter.__dict__["__new__"]
    mode = FakeCudaMode()

    def parameter(cls, data=None, requires_grad=True):
        """A parameter on its data's device (`Parameter` wraps its data below torch functions)."""
        param = real_parameter.__func__(cls, data, requires_grad)
        if isinstance(data, torch.Tensor):
            mode._tag(param, mode.device_of(data))
        return param

    torch.cuda.is_available = lambda: True
    torch.nn.Parameter.__new__ = staticmethod(parameter)
    try:
        with mode:
            yield mode
    finally:
        torch.cuda.is_available = real_available
        torch.nn.Parameter.__new__ = real_parameter
        torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
        torch.utils.deterministic.fill_uninitialized_memory = saved[2]
        if cublas is None:
            os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)


def python_with_default_jax_settings(code: str) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter with none of this process's jax placement or
    preallocation settings, so that what `pps` sets before importing jax is what is seen."""
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_PYTHON_CLIENT_PREALLOCATE", "JAX_PLATFORMS")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
