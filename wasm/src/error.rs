//! One error type for the whole codec. Each variant carries the numbers a person needs to see
//! what went wrong; the C ABI flattens it to a code and up to three integers (`ffi.rs`), and the
//! TypeScript side turns those back into a named error class.

use core::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// k or m is zero, or k + m exceeds 256.
    InvalidShardCounts { k: usize, m: usize },
    /// Shards must hold at least one byte.
    EmptyShards,
    /// A shard's length differs from the others'.
    ShardLengthMismatch { index: usize, expected: usize, actual: usize },
    /// The number of shards passed is not k + m.
    WrongShardCount { expected: usize, actual: usize },
    /// Fewer than k shards are present, so nothing can be rebuilt.
    NotEnoughShards { needed: usize, present: usize },
    /// A pointer (or pointer + length) does not lie inside a live allocation of this module.
    InvalidPointer { index: usize },
    /// Two shards that are written share memory, or a written shard overlaps a read one.
    OverlappingShards { a: usize, b: usize },
    /// The allocator could not grow memory by this many bytes.
    OutOfMemory { requested: usize },
}

impl Error {
    /// Stable numeric code used across the C ABI. Never reuse a retired number.
    pub fn code(&self) -> u32 {
        match self {
            Error::InvalidShardCounts { .. } => 1,
            Error::EmptyShards => 2,
            Error::ShardLengthMismatch { .. } => 3,
            Error::WrongShardCount { .. } => 4,
            Error::NotEnoughShards { .. } => 5,
            Error::InvalidPointer { .. } => 6,
            Error::OverlappingShards { .. } => 7,
            Error::OutOfMemory { .. } => 8,
        }
    }

    /// The variant's data as three integers, in declaration order (unused ones are zero).
    pub fn fields(&self) -> [u32; 3] {
        let c = |x: usize| x as u32;
        match *self {
            Error::InvalidShardCounts { k, m } => [c(k), c(m), 0],
            Error::EmptyShards => [0, 0, 0],
            Error::ShardLengthMismatch { index, expected, actual } => [c(index), c(expected), c(actual)],
            Error::WrongShardCount { expected, actual } => [c(expected), c(actual), 0],
            Error::NotEnoughShards { needed, present } => [c(needed), c(present), 0],
            Error::InvalidPointer { index } => [c(index), 0, 0],
            Error::OverlappingShards { a, b } => [c(a), c(b), 0],
            Error::OutOfMemory { requested } => [c(requested), 0, 0],
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidShardCounts { k, m } => write!(f, "need 1 <= k, 1 <= m, k + m <= 256; got k={}, m={}", k, m),
            Error::EmptyShards => write!(f, "shards must be at least one byte long"),
            Error::ShardLengthMismatch { index, expected, actual } => {
                write!(f, "shard {} is {} bytes, expected {}", index, actual, expected)
            }
            Error::WrongShardCount { expected, actual } => write!(f, "expected {} shards, got {}", expected, actual),
            Error::NotEnoughShards { needed, present } => write!(f, "need {} shards, only {} present", needed, present),
            Error::InvalidPointer { index } => write!(f, "pointer {} is outside any allocation", index),
            Error::OverlappingShards { a, b } => write!(f, "shards {} and {} overlap", a, b),
            Error::OutOfMemory { requested } => write!(f, "out of memory allocating {} bytes", requested),
        }
    }
}

impl std::error::Error for Error {}
