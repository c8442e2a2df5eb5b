"""Engine selection (backend.engines.plan_engine): pure rules, every fallback says why."""

from __future__ import annotations

import pytest

from backend.engines import plan_engine
from backend.engines.cpu_features import parse_cpuinfo
from backend.errors import BackendError, Code

EPYC_NO_BF16 = """processor\t: 0
model name\t: AMD EPYC
flags\t\t: fpu sse sse2 avx avx2 fma
"""
XEON_SPR = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: avx2 avx512f avx512_vnni avx512_bf16 amx_bf16 amx_int8
"""


def _codes(plan):
    return [n.code for n in plan.notes if n.kind == "warning"]


def test_auto_on_cpu_prefers_onnxruntime():
    plan = plan_engine("auto", "fp32", "cpu", ort_available=True, cpu_bf16=False)
    assert (plan.engine, plan.precision, plan.notes) == ("onnxruntime", "fp32", ())


def test_auto_without_onnxruntime_falls_back_to_torch_with_a_warning():
    plan = plan_engine("auto", "fp32", "cpu", ort_available=False, cpu_bf16=False)
    assert (plan.engine, plan.channels_last) == ("torch", True)
    assert _codes(plan) == ["ONNXRUNTIME_MISSING"]


def test_explicit_onnxruntime_without_it_is_a_coded_error():
    with pytest.raises(BackendError) as info:
        plan_engine("onnxruntime", "fp32", "cpu", ort_available=False, cpu_bf16=False)
    assert info.value.code == Code.ENGINE_UNAVAILABLE and "pip install onnxruntime" in info.value.hint


def test_torch_is_the_unchanged_reference_path():
    plan = plan_engine("torch", "fp32", "cpu", ort_available=True, cpu_bf16=True)
    assert (plan.engine, plan.precision, plan.channels_last, plan.notes) == ("torch", "fp32", None, ())


def test_bf16_is_not_offered_without_native_support_and_says_why():
    model, flags = parse_cpuinfo(EPYC_NO_BF16)
    from backend.engines.cpu_features import CpuFeatures

    cpu = CpuFeatures(model, flags, "AVX2")
    assert not cpu.bf16 and not cpu.vnni
    plan = plan_engine("auto", "bf16", "cpu", True, cpu.bf16, cpu.bf16_reason())
    assert (plan.engine, plan.precision) == ("onnxruntime", "fp32")
    assert _codes(plan) == ["BF16_UNAVAILABLE"]
    assert "AMD EPYC" in plan.notes[0].message and "avx512_bf16" in plan.notes[0].message


def test_bf16_with_native_support_runs_torch_autocast():
    model, flags = parse_cpuinfo(XEON_SPR)
    from backend.engines.cpu_features import CpuFeatures

    cpu = CpuFeatures(model, flags, "AVX512")
    assert cpu.bf16 and cpu.vnni
    plan = plan_engine("auto", "bf16", "cpu", True, cpu.bf16, cpu.bf16_reason())
    assert (plan.engine, plan.precision, plan.channels_last, _codes(plan)) == ("torch", "bf16", True, [])


@pytest.mark.parametrize(("engine", "device", "ort"), [("torch", "cpu", True), ("auto", "cuda", True),
                                                       ("auto", "cpu", False)])
def test_int8_where_it_cannot_run_falls_back_to_fp32(engine, device, ort):
    plan = plan_engine(engine, "int8", device, ort_available=ort, cpu_bf16=False)
    assert plan.precision == "fp32" and "INT8_UNAVAILABLE" in _codes(plan)


def test_int8_on_cpu_with_onnxruntime():
    plan = plan_engine("auto", "int8", "cpu", ort_available=True, cpu_bf16=False)
    assert (plan.engine, plan.precision, plan.notes) == ("onnxruntime", "int8", ())


def test_gpu_auto_is_torch_channels_last():
    plan = plan_engine("auto", "fp32", "cuda", ort_available=True, cpu_bf16=False)
    assert (plan.engine, plan.channels_last, plan.notes) == ("torch", True, ())


def test_unknown_choices_are_bad_arguments(tmp_path):
    from backend.pipeline import RunConfig

    with pytest.raises(BackendError) as info:
        RunConfig(input="x.mp4", out=str(tmp_path), engine="tensorrt")
    assert info.value.code == Code.BAD_ARGUMENT
    with pytest.raises(BackendError):
        plan_engine("auto", "fp16", "cpu", True, False)
