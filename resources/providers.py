"""The model registry: which models exist, how to reach them, what they cost.

This is the registry's one typed schema: a YAML registry file is validated against these
classes (``ModelRegistry.from_file``), so an unknown key or a bad value names the file and the
field. Keys come from environment variables through Dagster ``EnvVar`` (assets/definitions.py)
and are only ever handed to the SDK clients: never read from the file, logged or stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from dagster import Config, ConfigurableResource
from pydantic import ConfigDict, Field, ValidationError, model_validator

from pipeline.config import SECRET_FIELDS, describe_validation_error, read_registry_file
from pipeline.replay.online import Limits, ModelSpec, register_secret


class _Strict(Config):
    """A registry section: an unknown key (a typo) is an error, not a silently ignored line."""

    model_config = ConfigDict(extra="forbid")


class LimitsConfig(_Strict):
    """Client-side limits; a field left unset falls back to the broader setting."""

    concurrency: int | None = Field(None, ge=1)  # requests in flight
    rpm: float | None = Field(None, gt=0)  # requests per minute
    tpm: float | None = Field(None, gt=0)  # tokens per minute (estimated: prompt + max_tokens)


class ProviderLimits(_Strict):
    """Limits per provider, for every model it serves that sets none of its own."""

    openai: LimitsConfig = LimitsConfig()
    anthropic: LimitsConfig = LimitsConfig()
    openai_compatible: LimitsConfig = LimitsConfig()


class ModelConfig(_Strict):
    """One model of the registry (see pipeline.replay.ModelSpec for the meaning of fields)."""

    name: str
    provider: Literal["openai", "anthropic", "openai_compatible"]
    model_id: str
    base_url: str | None = None
    temperature: float | None = None
    max_tokens: int = 512
    system_prompt: str | None = None
    price_in_per_mtok: float = 0.0
    price_out_per_mtok: float = 0.0
    batch_discount: float = 0.5
    # Only the LLM judge of auto_scores (judge_model): never replayed, labelled or compared.
    judge_only: bool = False
    # Gone at its provider: never called. Its answers are production's logged ones (the
    # traffic file's `response` column), compared like replayed ones.
    retired: bool = False
    limits: LimitsConfig = LimitsConfig()  # overrides its provider's and the registry's
    # Ask for token log-probabilities, stored as `responses.confidence` (the mean token
    # log-probability of the answer). Unset: yes for openai and openai_compatible, no for
    # anthropic (its API has none). Set false for a model or server that refuses `logprobs`
    # (OpenAI's reasoning models, some local servers). Asking changes the request hash, so the
    # first replay after turning it on re-sends each request once.
    logprobs: bool | None = None

    @model_validator(mode="after")
    def _logprobs_need_openai(self) -> ModelConfig:
        if self.logprobs and self.provider == "anthropic":
            raise ValueError("logprobs: the Anthropic API returns no token log-probabilities")
        return self

    def spec(self) -> ModelSpec:
        fields = self.model_dump(exclude={"judge_only", "retired", "limits", "logprobs"})
        logprobs = self.provider != "anthropic" if self.logprobs is None else self.logprobs
        return ModelSpec(**fields, logprobs=logprobs)


class ModelRegistry(ConfigurableResource):
    """The incumbent, the candidates, and the provider credentials.

    With ``offline`` every model is served by the built-in loopback provider (the demo), which
    is started for each replay on a free port and stopped afterwards, failures included.
    """

    model_config = ConfigDict(extra="forbid")

    incumbent: str
    models: list[ModelConfig]
    offline: bool = False
    openai_api_key: str | None = None
    anthropic_api_key: str | None = None
    openai_compatible_api_key: str | None = None
    # Defaults for every model; `provider_limits` and a model's own `limits` override them.
    # They hold for the whole deployment, per model and per provider: each replay step paces at
    # its share (`shared_limits`), so the steps running at once stay within them together.
    concurrency: int = Field(16, ge=1)  # requests in flight per model
    rpm: float | None = Field(None, gt=0)  # requests per minute per model
    tpm: float | None = Field(None, gt=0)  # tokens per minute per model (estimated)
    provider_limits: ProviderLimits = ProviderLimits()
    # How many replay steps may run at once across the deployment. Unset: the limit of the
    # Dagster pool `llm_replay` (`dagster instance concurrency set llm_replay N`), else 1.
    replay_workers: int | None = Field(None, ge=1)

    @classmethod
    def from_file(cls, path, **secrets) -> ModelRegistry:
        """The registry in YAML file ``path``, with the keys (``EnvVar``s) given apart."""
        data = read_registry_file(path)
        # Dagster hands a missing field to pydantic as None, whose message would not say so.
        missing = [name for name, field in cls.model_fields.items()
                   if field.is_required() and name not in data]
        if missing:
            raise ValueError(f"{path}: {', '.join(missing)}: required, missing from the file")
        try:
            return cls(**data, **secrets)
        except ValidationError as error:
            raise describe_validation_error(path, error, data) from None
        except TypeError as error:  # a key that is not a string
            raise ValueError(f"{path}: {error}") from None

    def names(self) -> list[str]:
        """The models under comparison: the incumbent and the candidates (judges excluded)."""
        return [m.name for m in self.models if not m.judge_only]

    def candidates(self) -> list[str]:
        return [name for name in self.names() if name != self.incumbent]

    def model(self, name: str) -> ModelConfig:
        for model in self.models:
            if model.name == name:
                return model
        raise KeyError(f"model {name!r} is not in the registry "
                       f"({[m.name for m in self.models]})")

    def limits(self, name: str) -> Limits:
        """Model ``name``'s limits: each field from the model's own ``limits`` if set, else
        from its provider's in ``provider_limits``, else the registry-wide default."""
        model = self.model(name)
        layers = (model.limits, getattr(self.provider_limits, model.provider),
                  LimitsConfig(concurrency=self.concurrency, rpm=self.rpm, tpm=self.tpm))
        chosen = {field: next((getattr(layer, field) for layer in layers
                               if getattr(layer, field) is not None), None)
                  for field in ("concurrency", "rpm", "tpm")}
        return Limits(**chosen)

    def shared_limits(self, name: str, workers: int) -> Limits:
        """Model ``name``'s limits for one of ``workers`` replay steps that may run at once:
        its share when as many of them may be replaying models of its provider (at most
        ``workers``, at most the provider's models that are replayed), so that a model and its
        provider see at most their limits from all the steps together. A model whose provider
        serves no other replayed model keeps its whole limits."""
        provider = self.model(name).provider
        peers = sum(1 for m in self.models
                    if m.provider == provider and not (m.judge_only or m.retired))
        return self.limits(name).shared_by(max(1, min(workers, peers)))

    @contextmanager
    def endpoint(self, name: str) -> Iterator[tuple[ModelSpec, str, str | None]]:
        """(spec, api key, base url) for model ``name``; offline, the loopback provider runs
        for the duration of the block."""
        spec = self.model(name).spec()
        # Every configured key is masked in every provider error of this process.
        register_secret(*(getattr(self, field) for field in SECRET_FIELDS))
        if not self.offline:
            yield spec, self._api_key(spec), spec.base_url
            return
        # Only an offline registry loads the demo's loopback provider.
        from pipeline.demo import server as offline_server

        # The offline world's providers have retired what the registry marks retired.
        retired = {m.model_id for m in self.models if m.retired}
        with offline_server.serve(retired=retired) as server:
            url = server.anthropic_base_url if spec.provider == "anthropic" else server.base_url
            yield spec, "offline", url

    def _api_key(self, spec: ModelSpec) -> str:
        key = {
            "openai": self.openai_api_key,
            "anthropic": self.anthropic_api_key,
            "openai_compatible": self.openai_compatible_api_key or "not-needed",
        }[spec.provider]
        if not key:
            variable = "OPENAI_API_KEY" if spec.provider == "openai" else "ANTHROPIC_API_KEY"
            raise ValueError(f"model {spec.name!r} needs {variable} in the environment")
        return key
