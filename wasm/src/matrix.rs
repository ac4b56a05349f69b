//! Small dense matrices over GF(2^8), row-major. Sizes are at most 256 × 256, so Gauss–Jordan
//! elimination is cheap next to the megabytes of shard data each matrix is applied to.

use crate::gf;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<u8>,
}

impl Matrix {
    pub fn zero(rows: usize, cols: usize) -> Matrix {
        Matrix { rows, cols, data: vec![0; rows * cols] }
    }

    pub fn identity(n: usize) -> Matrix {
        let mut m = Matrix::zero(n, n);
        for i in 0..n {
            m.data[i * n + i] = 1;
        }
        m
    }

    /// `v[r][c] = r^c`: the Vandermonde matrix exactly as galois_8 builds it, points 0, 1, 2, …
    pub fn vandermonde(rows: usize, cols: usize) -> Matrix {
        let mut m = Matrix::zero(rows, cols);
        for r in 0..rows {
            for c in 0..cols {
                m.data[r * cols + c] = gf::pow(r as u8, c);
            }
        }
        m
    }

    #[inline]
    pub fn get(&self, r: usize, c: usize) -> u8 {
        self.data[r * self.cols + c]
    }

    pub fn row(&self, r: usize) -> &[u8] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }

    pub fn multiply(&self, rhs: &Matrix) -> Matrix {
        debug_assert_eq!(self.cols, rhs.rows);
        let mut out = Matrix::zero(self.rows, rhs.cols);
        for r in 0..self.rows {
            for c in 0..rhs.cols {
                let mut acc = 0u8;
                for i in 0..self.cols {
                    acc ^= gf::mul(self.get(r, i), rhs.get(i, c));
                }
                out.data[r * rhs.cols + c] = acc;
            }
        }
        out
    }

    /// A new matrix made of the given rows of `self`, in that order.
    pub fn select_rows(&self, rows: &[usize]) -> Matrix {
        let mut out = Matrix::zero(rows.len(), self.cols);
        for (i, &r) in rows.iter().enumerate() {
            out.data[i * self.cols..(i + 1) * self.cols].copy_from_slice(self.row(r));
        }
        out
    }

    /// Inverse by Gauss–Jordan elimination; `None` when singular (never for the sub-matrices RS
    /// builds, since any k rows of the systematic Vandermonde matrix are independent).
    pub fn invert(&self) -> Option<Matrix> {
        let n = self.rows;
        if n != self.cols {
            return None;
        }
        let mut a = self.clone();
        let mut inv = Matrix::identity(n);
        for col in 0..n {
            let pivot = (col..n).find(|&r| a.get(r, col) != 0)?;
            if pivot != col {
                for c in 0..n {
                    a.data.swap(pivot * n + c, col * n + c);
                    inv.data.swap(pivot * n + c, col * n + c);
                }
            }
            let scale = gf::inv(a.get(col, col))?;
            for c in 0..n {
                a.data[col * n + c] = gf::mul(a.data[col * n + c], scale);
                inv.data[col * n + c] = gf::mul(inv.data[col * n + c], scale);
            }
            for r in 0..n {
                let f = a.get(r, col);
                if r == col || f == 0 {
                    continue;
                }
                for c in 0..n {
                    a.data[r * n + c] ^= gf::mul(f, a.data[col * n + c]);
                    inv.data[r * n + c] ^= gf::mul(f, inv.data[col * n + c]);
                }
            }
        }
        Some(inv)
    }
}

/// The (k+m) × k systematic encoding matrix of `reed-solomon-erasure` and klauspost: a Vandermonde
/// matrix times the inverse of its top k × k square, so the top is the identity (data shards pass
/// through unchanged) and the bottom m rows are the parity coefficients.
pub fn systematic(k: usize, m: usize) -> Matrix {
    let v = Matrix::vandermonde(k + m, k);
    let top: Vec<usize> = (0..k).collect();
    let top_inv = v
        .select_rows(&top)
        .invert()
        .expect("a Vandermonde matrix on distinct points is invertible");
    v.multiply(&top_inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systematic_top_is_identity() {
        for &(k, m) in &[(1, 1), (4, 2), (10, 4), (17, 3), (200, 56)] {
            let s = systematic(k, m);
            let top: Vec<usize> = (0..k).collect();
            assert_eq!(s.select_rows(&top), Matrix::identity(k));
        }
    }

    #[test]
    fn inverse_times_matrix_is_identity() {
        let s = systematic(6, 4);
        let rows = [1, 3, 6, 7, 8, 9];
        let sub = s.select_rows(&rows);
        let inv = sub.invert().unwrap();
        assert_eq!(inv.multiply(&sub), Matrix::identity(6));
    }

    #[test]
    fn known_parity_row_of_reed_solomon_erasure() {
        // RS(4,2) first parity row as produced by reed-solomon-erasure 6.x / klauspost.
        let s = systematic(4, 2);
        assert_eq!(s.row(4), &[27, 28, 18, 20]);
        assert_eq!(s.row(5), &[28, 27, 20, 18]);
    }
}
