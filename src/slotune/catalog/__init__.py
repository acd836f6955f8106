"""Built-in catalogs of model architectures, GPUs and hardware profiles, and the Hugging Face config.json reader."""

from slotune.catalog.gpus import get_gpu, list_gpus
from slotune.catalog.hardware_profiles import builtin_profile_names, load_profile, write_profile
from slotune.catalog.hf_config import model_spec_from_config
from slotune.catalog.models import get_model, list_models, load_config_json

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
