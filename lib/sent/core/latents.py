"""Latent codes of a model's test split (SeNT step 1, `bin/extract`)."""

from __future__ import annotations

import numpy as np

from sent.core.plugin import BUILTIN, invalid, load_plugin, stored_spec
from sent.util.errors import SentError
from sent.util.io import save_npz


def extract(model_path, out, use_mean: bool = False, seed: int = 0, limit: int | None = None,
            batch_size: int = 4096, progress: bool = True, plugin: str | None = None) -> dict:
    """Write `out` (.npz): latent_codes, attributes (ground truth), fNames, rows (test items in
    order), model_id, model_fingerprint (which training of the id), encoding, and the plug-in
    unless built-in."""
    plug = load_plugin(plugin)
    model, card = plug.open_model(model_path)
    items, attributes = plug.test_items(card, limit)
    codes = np.asarray(plug.encode(model, items, use_mean, seed, batch_size=batch_size, progress=progress),
                       dtype=np.float32)
    attributes = np.asarray(attributes)
    if codes.shape != (len(attributes), model.latent_dim) or attributes.shape[1:] != (len(plug.attributes),):
        raise SentError(f"{plugin}: encoded {codes.shape} codes for attributes {attributes.shape}; expected "
                        f"({len(attributes)}, {model.latent_dim}) and (N, {len(plug.attributes)})")
    if attributes.dtype == bool or not np.issubdtype(attributes.dtype, np.number):
        raise SentError(f"plug-in {plug.name}: test_items gave attributes of dtype {attributes.dtype}; "
                        f"expected integer value indices or floats")
    never_valid = [name for name, column in zip(plug.names, attributes.T) if invalid(column).all()]
    if len(attributes) and never_valid:
        raise SentError(f"plug-in {plug.name}: no test item has a valid value of {', '.join(never_valid)} "
                        f"(all NaN or -1): there is nothing to pair or learn")
    if not np.isfinite(codes).all():
        raise SentError(f"{model_path}: the encoder produced NaN or infinite latent codes")
    arrays = {
        "latent_codes": codes,
        "attributes": attributes,
        "fNames": np.array(plug.names),
        "rows": items.astype(np.int64) if plug.name == BUILTIN else np.arange(len(codes), dtype=np.int64),
        "model_id": np.array(card["id"]),
        "model_fingerprint": np.array(plug.fingerprint(model)),
        "encoding": np.array("mean" if use_mean else f"sample(seed={seed})"),
    }
    if plug.name != BUILTIN:
        arrays["plugin"] = np.array(stored_spec(plugin))
    save_npz(out, **arrays)
    return arrays
