//! The C ABI the TypeScript loader calls. It is deliberately tiny: allocate/free, encode,
//! reconstruct, verify, Merkle leaves and root, and the last error. Every pointer that comes in is checked against the
//! live allocations made by `sf_alloc`, so no argument, however wrong, can make the module read or
//! write outside buffers the caller owns, trap, or corrupt the allocator.
//!
//! Return values: `0` is success (for `sf_verify`, `1` = parity valid, `0` = invalid), a negative
//! number is `-code` of `Error::code()`, with details from `sf_error_code` / `sf_error_field`.
//! In `InvalidPointer { index }`, index k+m means the pointer table and k+m+1 the present flags;
//! for the Merkle calls, 0 is the fragment and 1 the output.

use std::alloc::{alloc, dealloc, Layout};
use std::collections::BTreeMap;

use crate::error::Error;
use crate::merkle;
use crate::sha256::DIGEST_BYTES;
use crate::rs::ReedSolomon;

/// Codecs kept for the last few (k, m) pairs used, so their matrices and decode caches persist.
const CODECS: usize = 8;
const ALIGN: usize = 16;

struct State {
    allocs: BTreeMap<usize, usize>,
    codecs: Vec<ReedSolomon>,
    error: Option<Error>,
}

static mut STATE: Option<State> = None;

fn state() -> &'static mut State {
    // SAFETY: wasm32 without threads runs one call at a time, and no reference escapes a call.
    unsafe {
        if STATE.is_none() {
            STATE = Some(State { allocs: BTreeMap::new(), codecs: Vec::new(), error: None });
        }
        STATE.as_mut().unwrap_or_else(|| core::hint::unreachable_unchecked())
    }
}

fn fail(e: Error) -> i32 {
    state().error = Some(e);
    -(e.code() as i32)
}

#[no_mangle]
pub extern "C" fn sf_error_code() -> u32 {
    state().error.map(|e| e.code()).unwrap_or(0)
}

/// Field `i` (0..3) of the last error's data.
#[no_mangle]
pub extern "C" fn sf_error_field(i: u32) -> u32 {
    state().error.map(|e| e.fields().get(i as usize).copied().unwrap_or(0)).unwrap_or(0)
}

/// Allocates `len` bytes aligned to 16; returns 0 (and records `OutOfMemory`) on failure.
#[no_mangle]
pub extern "C" fn sf_alloc(len: usize) -> usize {
    let layout = match Layout::from_size_align(len.max(1), ALIGN) {
        Ok(l) => l,
        Err(_) => {
            fail(Error::OutOfMemory { requested: len });
            return 0;
        }
    };
    // SAFETY: layout has a non-zero size.
    let p = unsafe { alloc(layout) } as usize;
    if p == 0 {
        fail(Error::OutOfMemory { requested: len });
        return 0;
    }
    state().allocs.insert(p, len.max(1));
    p
}

/// Frees an allocation made by `sf_alloc`; anything else is refused, not freed.
#[no_mangle]
pub extern "C" fn sf_free(ptr: usize, len: usize) -> i32 {
    let st = state();
    match st.allocs.get(&ptr) {
        Some(&n) if n == len.max(1) => {
            st.allocs.remove(&ptr);
            // SAFETY: ptr came from `alloc` with exactly this layout.
            unsafe { dealloc(ptr as *mut u8, Layout::from_size_align_unchecked(n, ALIGN)) };
            0
        }
        _ => fail(Error::InvalidPointer { index: 0 }),
    }
}

/// True when `[ptr, ptr + len)` lies inside one live allocation.
fn owned(ptr: usize, len: usize) -> bool {
    let end = match ptr.checked_add(len) {
        Some(e) => e,
        None => return false,
    };
    match state().allocs.range(..=ptr).next_back() {
        Some((&start, &n)) => end <= start + n,
        None => false,
    }
}

fn codec(k: usize, m: usize) -> Result<&'static mut ReedSolomon, Error> {
    let st = state();
    let i = match st.codecs.iter().position(|c| c.data_shards() == k && c.parity_shards() == m) {
        Some(i) => i,
        None => {
            st.codecs.insert(0, ReedSolomon::new(k, m)?);
            st.codecs.truncate(CODECS);
            0
        }
    };
    Ok(&mut st.codecs[i])
}

/// Reads and checks the shard pointer table; `written` marks shards the call will write.
fn shard_ptrs(n: usize, len: usize, table: usize, written: &dyn Fn(usize) -> bool) -> Result<Vec<usize>, Error> {
    if len == 0 {
        return Err(Error::EmptyShards);
    }
    if !owned(table, n * 4) {
        return Err(Error::InvalidPointer { index: n });
    }
    let ptrs: Vec<usize> = (0..n)
        // SAFETY: the table was just checked to lie in an allocation.
        .map(|i| unsafe { core::ptr::read_unaligned((table + 4 * i) as *const u32) } as usize)
        .collect();
    for (i, &p) in ptrs.iter().enumerate() {
        if !owned(p, len) {
            return Err(Error::InvalidPointer { index: i });
        }
    }
    for a in (0..n).filter(|&i| written(i)) {
        for b in 0..n {
            if a != b && ptrs[a] < ptrs[b] + len && ptrs[b] < ptrs[a] + len {
                return Err(Error::OverlappingShards { a: a.min(b), b: a.max(b) });
            }
        }
    }
    Ok(ptrs)
}

fn counts(k: u32, m: u32) -> Result<(usize, usize), Error> {
    let (k, m) = (k as usize, m as usize);
    if k == 0 || m == 0 || k + m > 256 {
        return Err(Error::InvalidShardCounts { k, m });
    }
    Ok((k, m))
}

fn run(r: Result<i32, Error>) -> i32 {
    match r {
        Ok(v) => v,
        Err(e) => fail(e),
    }
}

/// Fills the m parity shards from the k data shards. `table` holds k + m u32 shard pointers.
#[no_mangle]
pub extern "C" fn sf_encode(k: u32, m: u32, len: usize, table: usize) -> i32 {
    run((|| {
        let (k, m) = counts(k, m)?;
        let ptrs = shard_ptrs(k + m, len, table, &|i| i >= k)?;
        // SAFETY: every range is inside an allocation, and written ranges overlap nothing else.
        let data: Vec<&[u8]> = ptrs[..k].iter().map(|&p| unsafe { core::slice::from_raw_parts(p as *const u8, len) }).collect();
        let mut parity: Vec<&mut [u8]> = ptrs[k..].iter().map(|&p| unsafe { core::slice::from_raw_parts_mut(p as *mut u8, len) }).collect();
        codec(k, m)?.encode(&data, &mut parity)?;
        Ok(0)
    })())
}

/// Rebuilds the shards whose byte in `present` (k + m flags) is 0; only data ones if `data_only`.
#[no_mangle]
pub extern "C" fn sf_reconstruct(k: u32, m: u32, len: usize, table: usize, present: usize, data_only: u32) -> i32 {
    run((|| {
        let (k, m) = counts(k, m)?;
        let n = k + m;
        if !owned(present, n) {
            return Err(Error::InvalidPointer { index: n + 1 });
        }
        // SAFETY: checked just above.
        let flags: Vec<bool> = unsafe { core::slice::from_raw_parts(present as *const u8, n) }.iter().map(|&b| b != 0).collect();
        let writes = |i: usize| !flags[i] && (i < k || data_only == 0);
        let ptrs = shard_ptrs(n, len, table, &writes)?;
        // Shards that are read may alias each other; only written ones must be exclusive. Build
        // every view as mutable only because the Rust API takes one slice of all shards.
        let mut shards: Vec<&mut [u8]> = ptrs.iter().map(|&p| unsafe { core::slice::from_raw_parts_mut(p as *mut u8, len) }).collect();
        codec(k, m)?.reconstruct(&mut shards, &flags, data_only != 0)?;
        Ok(0)
    })())
}

/// 1 when the parity shards match the data shards, 0 when not.
#[no_mangle]
pub extern "C" fn sf_verify(k: u32, m: u32, len: usize, table: usize) -> i32 {
    run((|| {
        let (k, m) = counts(k, m)?;
        let ptrs = shard_ptrs(k + m, len, table, &|_| false)?;
        let shards: Vec<&[u8]> = ptrs.iter().map(|&p| unsafe { core::slice::from_raw_parts(p as *const u8, len) }).collect();
        Ok(codec(k, m)?.verify(&shards)? as i32)
    })())
}

/// Checks a Merkle call's fragment `[ptr, ptr + len)` and output `[out, out + out_len)`.
fn merkle_args(ptr: usize, len: usize, out: usize, out_len: usize) -> Result<(), Error> {
    if len == 0 {
        return Err(Error::EmptyShards);
    }
    if !owned(ptr, len) {
        return Err(Error::InvalidPointer { index: 0 });
    }
    if !owned(out, out_len) {
        return Err(Error::InvalidPointer { index: 1 });
    }
    if out < ptr + len && ptr < out + out_len {
        return Err(Error::OverlappingShards { a: 0, b: 1 });
    }
    Ok(())
}

/// Writes the Merkle leaf hashes of the fragment at `[ptr, ptr + len)` to `out`: ⌈len / 1024⌉
/// hashes of 32 bytes, in order.
#[no_mangle]
pub extern "C" fn sf_merkle_leaves(ptr: usize, len: usize, out: usize) -> i32 {
    run((|| {
        let n = merkle::leaf_count(len) * DIGEST_BYTES;
        merkle_args(ptr, len, out, n)?;
        // SAFETY: both ranges lie in allocations and do not overlap.
        let fragment = unsafe { core::slice::from_raw_parts(ptr as *const u8, len) };
        let hashes = unsafe { core::slice::from_raw_parts_mut(out as *mut u8, n) };
        merkle::leaf_hashes(fragment, hashes);
        Ok(0)
    })())
}

/// Writes the Merkle root (32 bytes) of the fragment at `[ptr, ptr + len)` to `out`.
#[no_mangle]
pub extern "C" fn sf_merkle_root(ptr: usize, len: usize, out: usize) -> i32 {
    run((|| {
        merkle_args(ptr, len, out, DIGEST_BYTES)?;
        // SAFETY: both ranges lie in allocations and do not overlap.
        let fragment = unsafe { core::slice::from_raw_parts(ptr as *const u8, len) };
        let root = unsafe { core::slice::from_raw_parts_mut(out as *mut u8, DIGEST_BYTES) };
        root.copy_from_slice(&merkle::root(fragment));
        Ok(0)
    })())
}
