"""The per-process ANN cache: trials that differ only in SNN settings reuse one trained ANN."""

from sweep_fakes import BASE, FakeExperiment, run_sweep

from tfsnn.sweeps.cache import ann_cache_key


def test_trained_ann_is_reused_across_snn_only_changes(tmp_path, fake):
    run_sweep(tmp_path, 4)
    models = [kw["model"] for kw in fake.calls]
    assert models[0] == "mlp"
    assert all(not isinstance(m, str) for m in models[1:])
    assert len({id(m) for m in models[1:]}) == 1
    fake.calls = []
    run_sweep(tmp_path, 3, study_name="nocache", cache_ann=False)
    assert [kw["model"] for kw in fake.calls] == ["mlp"] * 3
    assert ann_cache_key(FakeExperiment, {**BASE, "timesteps": 10}) == \
        ann_cache_key(FakeExperiment, {**BASE, "timesteps": 50, "percentile": 99.5})
    assert ann_cache_key(FakeExperiment, BASE) != \
        ann_cache_key(FakeExperiment, {**BASE, "epochs": 2})
    assert ann_cache_key(FakeExperiment, {**BASE, "encoding": "rate"}) != \
        ann_cache_key(FakeExperiment, {**BASE, "encoding": "ttfs_clamped"})
