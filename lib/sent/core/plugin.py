"""Plug-ins: a latent model, its data and its attributes behind one small interface.

Every SeNT step needs only these operations from the domain: load a model, encode the items of
its test split, decode latent codes back to items, and compute the attributes of items. A
plug-in is a Python file or importable module with a function `plugin()` that returns a
`Plugin`; `bin/extract --plugin PATH` records it in the latents, `init-repo` in the repository's
config.json, and every later tool takes it from there. The built-in plug-in (no --plugin) is the
dMelodies VAE zoo with the exact attribute extractor.

Attribute arrays are (N, K): integer value indices with -1 for "invalid" (categorical
attributes only), or floats with NaN for "invalid" (any continuous attribute).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import os
from pathlib import Path

import numpy as np

from sent.util.errors import SentError
from sent.util.validate import column

BUILTIN = "dmelodies"
BUILTIN_MODULE = "sent.dmelodies.plugin"  # named, not imported: the core knows no domain


@dataclasses.dataclass(frozen=True)
class Attribute:
    """One attribute: categorical (the names of its values 0..n-1) or continuous (values None)."""

    name: str
    values: tuple[str, ...] | None = None

    @property
    def categorical(self) -> bool:
        return self.values is not None


class Plugin:
    """The interface a plug-in implements: subclass it, set `name` (identifies the plug-in in
    repositories) and `attributes` (in column order), and override the six methods that raise
    NotImplementedError. Optional: `regularised(model_id)`, true when latent dim k of that model
    is trained to carry attribute k (then the regularised-dimension baseline applies).

    The tools use a model only through these methods and its `latent_dim` (an int): it may be any
    Python object (a torch module, a few numpy arrays). Codes are numpy float arrays (N, D) with
    D = latent_dim; items are whatever `test_items` returns and `decode` produces (a numpy array
    or anything sliceable with len()). `load_model` should raise sent.SentError naming the
    file when it is not one of this plug-in's models (any other exception it raises is reported as
    such in one line).
    """

    name: str = ""
    attributes: tuple[Attribute, ...] = ()

    def regularised(self, model_id: str) -> bool:
        return False

    def load_model(self, path) -> tuple[object, dict]:
        """(model, card) of a model file; the model has `latent_dim`, the card an "id"."""
        raise NotImplementedError

    def fingerprint(self, model) -> str:
        """Identifies one training of a model (repositories refuse another one's codes)."""
        raise NotImplementedError

    def test_items(self, card: dict, limit: int | None = None):
        """(items, attributes): the model's test items (anything `encode` takes, sliceable) and
        their ground-truth attributes (N, K)."""
        raise NotImplementedError

    def encode(self, model, items, use_mean: bool, seed: int = 0, batch_size: int = 4096,
               progress: bool = False) -> np.ndarray:
        """Latent codes (N, D) of items: posterior means, or one seeded posterior sample each."""
        raise NotImplementedError

    def decode(self, model, codes: np.ndarray):
        """Items decoded from latent codes (N, D), batched, without gradients."""
        raise NotImplementedError

    def extract(self, items) -> np.ndarray:
        """Attributes (N, K) of items (see the module doc for the invalid marker)."""
        raise NotImplementedError

    # -------------------------------------------------- derived, not to be overridden
    def open_model(self, path) -> tuple[object, dict]:
        """load_model, checked against the contract, with one-line errors for a foreign file."""
        try:
            model, card = self.load_model(path)
        except SentError:
            raise
        except Exception as exc:  # a plug-in that did not expect another plug-in's file
            raise SentError(f"{path}: plug-in {self.name} cannot load it ({type(exc).__name__}: {exc}); a model "
                            f"of another plug-in? (extract --plugin)") from None
        if not isinstance(getattr(model, "latent_dim", None), (int, np.integer)) or not isinstance(card, dict) \
                or "id" not in card:
            raise SentError(f"plug-in {self.name}: load_model({path}) must return (model with an int latent_dim, "
                            f"card dict with an \"id\")")
        return model, card

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.attributes]

    @property
    def categorical(self) -> bool:
        """All attributes categorical: attribute arrays are integer indices, -1 invalid."""
        return all(a.categorical for a in self.attributes)

    def attribute_index(self, name_or_index) -> int:
        """Column of an attribute given by name or index, with a clear error."""
        return column(self.names, name_or_index)

    def value_count(self, attribute: int) -> int:
        """Number of values of a categorical attribute (what a one-hot encoding needs)."""
        a = self.attributes[attribute]
        if not a.categorical:
            raise SentError(f"{a.name} is continuous: it has no one-hot encoding (drop the 'h' variant)")
        return len(a.values)

    def decode_attributes(self, model, codes: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """Attributes (N, K) of the items decoded from latent codes (N, D), in batches."""
        out = []
        for s in range(0, len(codes), batch_size):
            chunk = codes[s:s + batch_size]
            attributes = np.asarray(self.extract(self.decode(model, chunk)))
            if attributes.shape != (len(chunk), len(self.attributes)):
                raise SentError(f"plug-in {self.name}: extract(decode(codes)) gave shape {attributes.shape} for "
                                f"{len(chunk)} codes; expected ({len(chunk)}, {len(self.attributes)})")
            out.append(attributes)
        if out:
            return np.concatenate(out)
        return np.zeros((0, len(self.attributes)), dtype=np.int64 if self.categorical else np.float64)


def invalid(values: np.ndarray) -> np.ndarray:
    """Where attribute values are invalid: -1 in integer arrays, NaN in float arrays."""
    values = np.asarray(values)
    return np.isnan(values) if values.dtype.kind == "f" else values < 0


_LOADED: dict[str, Plugin] = {}


def load_plugin(spec: str | None) -> Plugin:
    """The plug-in named by `spec`: None, "" or "dmelodies" (built-in), a .py file, or a module
    name; each is imported once per process."""
    key = BUILTIN if spec in (None, "", BUILTIN) else str(spec)
    if key not in _LOADED:
        _LOADED[key] = _import_plugin(BUILTIN_MODULE if key == BUILTIN else key)
    return _LOADED[key]


def _import_plugin(spec: str) -> Plugin:
    try:
        if spec.endswith(".py"):
            path = Path(spec)
            if not path.is_file():
                raise SentError(f"{spec}: no such plug-in file")
            loader = importlib.util.spec_from_file_location(f"sent_plugin_{path.stem}", path)
            module = importlib.util.module_from_spec(loader)
            loader.loader.exec_module(module)
        else:
            module = importlib.import_module(spec)
    except SentError:
        raise
    except Exception as exc:  # the user's code: any error while importing it is theirs to see
        raise SentError(f"{spec}: plug-in could not be loaded ({type(exc).__name__}: {exc})") from None
    factory = getattr(module, "plugin", None)
    if not callable(factory):
        raise SentError(f"{spec}: a plug-in module must define plugin() returning a sent.Plugin")
    instance = factory()
    if not isinstance(instance, Plugin) or not instance.name or not instance.attributes:
        raise SentError(f"{spec}: plugin() must return a sent.Plugin with a name and attributes")
    return instance


def stored_spec(spec: str | None) -> str:
    """The plug-in as a repository records it: a file by its absolute path (tasks run elsewhere)."""
    if spec in (None, "", BUILTIN):
        return BUILTIN
    return os.path.abspath(spec) if str(spec).endswith(".py") else str(spec)
