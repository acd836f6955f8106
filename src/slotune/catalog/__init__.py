"""Built-in catalogs of model architectures, GPUs and hardware profiles, and the Hugging Face config.json reader.

Names are imported from their modules on first use (slotune._lazy): reading a catalog loads YAML and builds models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slotune._lazy import lazy_getattr

if TYPE_CHECKING:
    from slotune.catalog.gpus import get_gpu, list_gpus
    from slotune.catalog.hardware_profiles import builtin_profile_names, load_profile, write_profile
    from slotune.catalog.hf_config import model_spec_from_config
    from slotune.catalog.models import get_model, list_models, load_config_json

_HOMES: dict[str, str] = {
    "builtin_profile_names": "hardware_profiles",
    "get_gpu": "gpus",
    "get_model": "models",
    "list_gpus": "gpus",
    "list_models": "models",
    "load_config_json": "models",
    "load_profile": "hardware_profiles",
    "model_spec_from_config": "hf_config",
    "write_profile": "hardware_profiles",
}

__all__ = [
    "builtin_profile_names",
    "get_gpu",
    "get_model",
    "list_gpus",
    "list_models",
    "load_config_json",
    "load_profile",
    "model_spec_from_config",
    "write_profile",
]

__getattr__ = lazy_getattr(__name__, _HOMES, globals())
