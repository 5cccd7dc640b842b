"""Issue 14, defect 5: every config field is checked where the config is built; a bad value is an
error naming the config class, the field, the value and what is allowed."""
import dataclasses

import pytest

from ntlib.run import config
from ntlib.run.config import (
    DataConfig,
    FrequentConfig,
    GanConfig,
    MaliciousConfig,
    MMIConfig,
    ModelConfig,
    TrainConfig,
    override,
)
from ntlib.run.profiles import PROFILES, get_profile
from ntlib.run.rules import ConfigError

STAGE_CONFIGS = (config.DataConfig, config.ModelConfig, config.TrainConfig, config.DecodeConfig, config.GibbsConfig,
                 config.MaliciousConfig, config.FrequentConfig, config.GanConfig, config.MMIConfig)

# (config class, field, bad value, what the message must say) — the cases of issue 14 first
BAD = [
    (TrainConfig, "epochs_fixed", -3, "must be an int ≥ 0"),
    (DataConfig, "vocab_size", 0, "must be an int ≥ 2"),
    (FrequentConfig, "r_thres", 2.0, "< 1"),
    (FrequentConfig, "r_thres", 1.0, "< 1 (a share of the responses: 1 would flag none)"),   # issue 28: one owner
    (MaliciousConfig, "hit_types", ("o_greedyy",), "o_sample_avg"),
    (TrainConfig, "lr", -0.5, "> 0"),
    (TrainConfig, "batch_size", 0, "must be an int ≥ 1"),
    (TrainConfig, "batch_size", "64", "must be an int ≥ 1"),
    (TrainConfig, "lr", 1e9, "≤ 100"),
    (MaliciousConfig, "lists", "train", "not a str"),
    (TrainConfig, "lr", float("nan"), "finite"),
    (TrainConfig, "optimizer", "adagrad", "['adam', 'sgd']"),
    (TrainConfig, "seed", -1, "int"),
    (TrainConfig, "seed", 1.5, "int"),
    (ModelConfig, "dropout", 1.0, "[0, 1)"),
    (ModelConfig, "hidden", 0, "≥ 1"),
    (config.DecodeConfig, "beam_size", 10**6, "in [1, 100]"),          # issue 27: killed for memory at 24 GB
    (MMIConfig, "beam_size", 10**6, "in [1, 100]"),
    (DataConfig, "corpus", "reddit", "switchboard"),
    (DataConfig, "max_train_dialogues", 0, "or None"),
    (FrequentConfig, "negative_loss", "bogus", "registered"),
    (GanConfig, "g_lrs", (1e-3, -1.0), "not allowed: [-1.0]"),
    (GanConfig, "d_widths", "345", "not a str"),
    (MMIConfig, "gs", (), "non-empty"),
    (config.GibbsConfig, "stop_when_hit", "no", "True or False"),
    (config.DecodeConfig, "temperature", 0.0, "> 0"),
]


@pytest.mark.parametrize("cls, name, value, allowed", BAD, ids=[f"{c.__name__}.{n}={v!r}" for c, n, v, _ in BAD])
def test_bad_field_is_refused_naming_class_field_value(cls, name, value, allowed):
    with pytest.raises(ConfigError) as e:
        override(cls(), **{name: value})
    msg = str(e.value)
    assert msg.startswith(f"{cls.__name__}.{name} = {value!r}: "), msg
    assert allowed in msg, msg


def test_no_epoch_at_all_is_refused():
    with pytest.raises(ConfigError, match="epochs_fixed \\+ epochs_halving = 0"):
        TrainConfig(epochs_fixed=0, epochs_halving=0)


def test_every_field_of_every_stage_config_has_a_rule_and_every_profile_passes():
    for cls in STAGE_CONFIGS:
        assert set(cls._RULES) == {f.name for f in dataclasses.fields(cls)}, cls.__name__
    for name in PROFILES:
        for corpus in config.CORPORA:
            get_profile(name, corpus)          # every preset is valid on every corpus


def test_a_list_is_stored_as_a_tuple():
    assert MaliciousConfig(lists=["train"]).lists == ("train",)
    assert hash(MaliciousConfig(lists=["train"])) == hash(MaliciousConfig(lists=("train",)))


def test_allowed_names_agree_with_the_registries():
    from ntlib.methods import hits, negative_losses
    assert set(config.HIT_TYPES) == set(hits.HIT_TYPES)
    for name in negative_losses.NEGATIVE_LOSSES:        # the config reads the one registry: every loss, cringe too
        assert FrequentConfig(negative_loss=name).negative_loss == MaliciousConfig(negative_loss=name).negative_loss
    try:                               # a newly registered negative loss becomes a valid config value
        negative_losses.register_negative_loss("test_only_zero")(lambda logits, samples, w: (logits * 0).sum())
        assert FrequentConfig(negative_loss="test_only_zero").negative_loss == "test_only_zero"
    finally:
        negative_losses.NEGATIVE_LOSSES.pop("test_only_zero", None)
    with pytest.raises(ConfigError, match="MaliciousConfig.negative_loss = 'nope': must be a registered negative loss"):
        MaliciousConfig(negative_loss="nope")
