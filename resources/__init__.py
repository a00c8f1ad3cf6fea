"""Dagster resources: the warehouse, the model registry and providers, the data sources, the
artifact store."""

from resources.artifacts import Artifacts
from resources.providers import ModelConfig, ModelRegistry, ProviderLimits
from resources.sources import DataSources
from resources.warehouse import BISnapshot, Warehouse

__all__ = ["Artifacts", "BISnapshot", "DataSources", "ModelConfig", "ModelRegistry",
           "ProviderLimits", "Warehouse"]
