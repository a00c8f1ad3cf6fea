"""Dagster resources: the warehouse, the model registry and providers, the data sources."""

from resources.providers import ModelConfig, ModelRegistry, ProviderLimits
from resources.sources import DataSources
from resources.warehouse import Warehouse

__all__ = ["DataSources", "ModelConfig", "ModelRegistry", "ProviderLimits", "Warehouse"]
