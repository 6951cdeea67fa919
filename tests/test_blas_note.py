"""kernels.blas says when its private OpenBLAS runs kernels below what the CPU supports, and why."""

from minigan_kernels import blas

AVX512 = {"avx2", "fma", "avx512f"}


def test_an_override_that_forces_older_kernels_is_named():
    note = blas.below_cpu_note("Haswell", AVX512, {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "1048576"})
    assert "BELOW what this CPU supports (AVX-512)" in note
    assert "OPENBLAS_CORETYPE=Haswell" in note and "OPENBLAS_L2_SIZE=1048576" in note


def test_an_unrecognised_cpu_is_the_reason_when_nothing_is_overridden():
    assert "does not recognise the CPU" in blas.below_cpu_note("Sandybridge", {"avx2"}, {})


def test_matching_kernels_give_no_note_and_a_cache_override_alone_is_reported():
    assert blas.below_cpu_note("SkylakeX", AVX512, {}) == ""
    assert blas.below_cpu_note("Zen", {"avx2"}, {}) == ""
    assert (
        blas.below_cpu_note("SkylakeX", AVX512, {"OPENBLAS_L2_SIZE": "1"})
        == "; set in the environment: OPENBLAS_L2_SIZE=1"
    )
