//! Reed-Solomon over GF(2^8): encode, reconstruct, verify. Byte-identical to `reed-solomon-erasure`
//! (galois_8) and klauspost/reedsolomon, because it uses their field and their systematic matrix.

use crate::error::Error;
use crate::gf;
use crate::kernel;
use crate::matrix::{self, Matrix};

/// Decode matrices kept per codec; one per erasure pattern seen recently. A k × k inverse costs
/// O(k³) field operations (16 M for k = 255), so repeated patterns, the common case when the same
/// farmers are down for every segment of a file, are worth remembering.
const DECODE_CACHE: usize = 64;

/// Positions compared per step by `verify`, so it needs no more scratch than this per parity shard.
const VERIFY_CHUNK: usize = 16 * 1024;

pub struct ReedSolomon {
    k: usize,
    m: usize,
    matrix: Matrix,
    parity_tables: Vec<[u8; 32]>,
    /// (bitmask of the k rows used, inverse of those rows), most recently used first.
    cache: Vec<([u64; 4], Matrix)>,
}

fn tables_of(rows: &[&[u8]]) -> Vec<[u8; 32]> {
    rows.iter().flat_map(|r| r.iter().map(|&c| gf::nibble_tables(c))).collect()
}

impl ReedSolomon {
    pub fn new(k: usize, m: usize) -> Result<ReedSolomon, Error> {
        if k == 0 || m == 0 || k + m > 256 {
            return Err(Error::InvalidShardCounts { k, m });
        }
        let matrix = matrix::systematic(k, m);
        let parity_rows: Vec<&[u8]> = (k..k + m).map(|r| matrix.row(r)).collect();
        let parity_tables = tables_of(&parity_rows);
        Ok(ReedSolomon { k, m, matrix, parity_tables, cache: Vec::new() })
    }

    pub fn data_shards(&self) -> usize {
        self.k
    }

    pub fn parity_shards(&self) -> usize {
        self.m
    }

    /// The encoding matrix row for shard `i` (identity rows for data, coefficients for parity).
    pub fn matrix_row(&self, i: usize) -> &[u8] {
        self.matrix.row(i)
    }

    fn check_lengths<S: AsRef<[u8]>>(shards: &[S], expected_count: usize) -> Result<usize, Error> {
        if shards.len() != expected_count {
            return Err(Error::WrongShardCount { expected: expected_count, actual: shards.len() });
        }
        let len = shards.first().map(|s| s.as_ref().len()).unwrap_or(0);
        if len == 0 {
            return Err(Error::EmptyShards);
        }
        for (index, s) in shards.iter().enumerate() {
            let actual = s.as_ref().len();
            if actual != len {
                return Err(Error::ShardLengthMismatch { index, expected: len, actual });
            }
        }
        Ok(len)
    }

    /// Fills the m `parity` shards from the k `data` shards.
    pub fn encode(&self, data: &[&[u8]], parity: &mut [&mut [u8]]) -> Result<(), Error> {
        let len = Self::check_lengths(data, self.k)?;
        let plen = Self::check_lengths(parity, self.m)?;
        if plen != len {
            return Err(Error::ShardLengthMismatch { index: self.k, expected: len, actual: plen });
        }
        kernel::mul_matrix(&self.parity_tables, data, parity, len);
        Ok(())
    }

    /// True when the parity shards are exactly what `encode` would make of the data shards.
    pub fn verify(&self, shards: &[&[u8]]) -> Result<bool, Error> {
        let len = Self::check_lengths(shards, self.k + self.m)?;
        let mut scratch = vec![vec![0u8; VERIFY_CHUNK.min(len)]; self.m];
        let mut pos = 0;
        while pos < len {
            let n = VERIFY_CHUNK.min(len - pos);
            let data: Vec<&[u8]> = shards[..self.k].iter().map(|s| &s[pos..pos + n]).collect();
            let mut outs: Vec<&mut [u8]> = scratch.iter_mut().map(|s| &mut s[..n]).collect();
            kernel::mul_matrix(&self.parity_tables, &data, &mut outs, n);
            for (i, computed) in scratch.iter().enumerate() {
                if computed[..n] != shards[self.k + i][pos..pos + n] {
                    return Ok(false);
                }
            }
            pos += n;
        }
        Ok(true)
    }

    /// Rebuilds every shard whose `present` flag is false (only data shards when `data_only`),
    /// from the first k present ones. Present shards are read, never written.
    pub fn reconstruct(&mut self, shards: &mut [&mut [u8]], present: &[bool], data_only: bool) -> Result<(), Error> {
        let n = self.k + self.m;
        let len = Self::check_lengths(shards, n)?;
        if present.len() != n {
            return Err(Error::WrongShardCount { expected: n, actual: present.len() });
        }
        let have = present.iter().filter(|&&p| p).count();
        if have < self.k {
            return Err(Error::NotEnoughShards { needed: self.k, present: have });
        }
        let missing_data: Vec<usize> = (0..self.k).filter(|&i| !present[i]).collect();
        if !missing_data.is_empty() {
            let chosen: Vec<usize> = (0..n).filter(|&i| present[i]).take(self.k).collect();
            let inverse = self.decode_matrix(&chosen);
            let rows: Vec<&[u8]> = missing_data.iter().map(|&d| inverse.row(d)).collect();
            let tables = tables_of(&rows);
            let mut inputs: Vec<&[u8]> = Vec::with_capacity(self.k);
            let mut outputs: Vec<&mut [u8]> = Vec::with_capacity(missing_data.len());
            let mut next_chosen = chosen.iter().peekable();
            for (i, s) in shards.iter_mut().enumerate() {
                if next_chosen.peek() == Some(&&i) {
                    next_chosen.next();
                    inputs.push(&**s);
                } else if i < self.k && !present[i] {
                    outputs.push(&mut **s);
                }
            }
            kernel::mul_matrix(&tables, &inputs, &mut outputs, len);
        }
        if data_only {
            return Ok(());
        }
        let missing_parity: Vec<usize> = (self.k..n).filter(|&i| !present[i]).collect();
        if !missing_parity.is_empty() {
            let rows: Vec<&[u8]> = missing_parity.iter().map(|&p| self.matrix.row(p)).collect();
            let tables = tables_of(&rows);
            let (data, parity) = shards.split_at_mut(self.k);
            let inputs: Vec<&[u8]> = data.iter().map(|s| &**s).collect();
            let mut outputs: Vec<&mut [u8]> = parity
                .iter_mut()
                .enumerate()
                .filter(|(i, _)| !present[self.k + i])
                .map(|(_, s)| &mut **s)
                .collect();
            kernel::mul_matrix(&tables, &inputs, &mut outputs, len);
        }
        Ok(())
    }

    fn decode_matrix(&mut self, chosen: &[usize]) -> Matrix {
        let mut key = [0u64; 4];
        for &r in chosen {
            key[r / 64] |= 1 << (r % 64);
        }
        if let Some(i) = self.cache.iter().position(|(k, _)| *k == key) {
            let hit = self.cache.remove(i);
            self.cache.insert(0, hit);
        } else {
            let inverse = self
                .matrix
                .select_rows(chosen)
                .invert()
                .expect("any k rows of a systematic Vandermonde matrix are independent");
            self.cache.insert(0, (key, inverse));
            self.cache.truncate(DECODE_CACHE);
        }
        self.cache[0].1.clone()
    }

    /// How many decode matrices are cached (for tests of the cache).
    pub fn cached_patterns(&self) -> usize {
        self.cache.len()
    }
}
