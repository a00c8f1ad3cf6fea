"""Dagster resources: the warehouse, the model registry and providers, the data sources."""

from resources.providers import ModelConfig, ModelRegistry, ProviderLimits
from resources.sources import DataSources
from resources.warehouse import BISnapshot, Warehouse

__all__ = ["BISnapshot", "DataSources", "ModelConfig", "ModelRegistry", "ProviderLimits",
           "Warehouse"]
