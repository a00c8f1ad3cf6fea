"""Where the pipeline keeps its files (pipeline.data.artifacts): a folder by default, an
object store (``s3://bucket/prefix``) where steps run on machines that share no disk."""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field

from pipeline.data.artifacts import ArtifactStore


class Artifacts(ConfigurableResource):
    """Saved fits, reports, plots and label-queue sheets live under ``root``."""

    root: str = Field(description="a folder, or an fsspec URL such as s3://bucket/prefix "
                                  "(LLM_MIGRATE_ARTIFACTS)")

    def store(self) -> ArtifactStore:
        return ArtifactStore(self.root)
