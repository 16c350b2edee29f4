"""One BLAS call for the matrix products of training: ``out <- alpha a @ b + beta out`` in place.

numpy's matmul cannot accumulate into its output (beta = 1), which is what folds a layer's bias
addition and a plain SGD step into the product; :func:`gemm` calls BLAS's GEMM directly.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import blas


def _as_fortran_operand(matrix: np.ndarray) -> tuple[np.ndarray, int]:
    """(array, trans) with op(array) == matrix and array Fortran-ordered, without copying a C- or
    F-contiguous matrix (the transpose of a C-contiguous matrix is F-contiguous)."""
    if matrix.flags.f_contiguous:
        return matrix, 0
    if matrix.flags.c_contiguous:
        return matrix.T, 1
    return np.asfortranarray(matrix), 0


def gemm(alpha: float, a: np.ndarray, b: np.ndarray, beta: float, out: np.ndarray) -> None:
    """out <- alpha a @ b + beta out, in place, by one BLAS GEMM call.

    ``out`` is C-contiguous, so BLAS (column-major) computes its transpose: out^T = alpha b^T a^T +
    beta out^T. Operands that are C- or F-contiguous (weights, batches and their transposes) are
    passed with the matching transpose flag, never copied. numpy's matmul cannot accumulate
    (beta = 1), which is what folds the bias addition and the SGD update into the product.
    """
    gemm = _GEMM[out.dtype.char]
    first, trans_first = _as_fortran_operand(b.T)
    second, trans_second = _as_fortran_operand(a.T)
    result = gemm(alpha, first, second, beta=beta, c=out.T, trans_a=trans_first, trans_b=trans_second,
                  overwrite_c=1)
    if not np.shares_memory(result, out):  # pragma: no cover - only for non-contiguous ``out``
        out.T[...] = result


_GEMM = {"f": blas.sgemm, "d": blas.dgemm}
