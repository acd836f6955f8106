"""Built-in catalogs of model architectures and GPUs, and the Hugging Face config.json reader."""

from slotune.catalog.gpus import get_gpu, list_gpus
from slotune.catalog.hf_config import model_spec_from_config
from slotune.catalog.models import get_model, list_models, load_config_json

__all__ = ["get_gpu", "get_model", "list_gpus", "list_models", "load_config_json", "model_spec_from_config"]
