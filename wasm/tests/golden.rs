//! Golden vectors and behaviour of the public Rust API (native build, scalar kernel). The same
//! parity hashes are asserted again from TypeScript through the SIMD wasm modules.

mod common;
use common::{sha256_hex, shards};
use shardfarm_codec::{Error, ReedSolomon};

/// Pinned from the oracle (`reed-solomon-erasure`): SHA-256 of the parity shards back to back.
const GOLDEN: &[(usize, usize, usize, u32, &str)] = &[
    (4, 2, 1000, 1, "f948e564690f724027e9df29e9e8ebc0c479d293623bd6e7d333342f25de93f6"),
    (10, 4, 4103, 2, "d1a5c09e2e7a49dfc76270f117a1eec36084b5add20fec6a41325435b9a77ab6"),
    (17, 3, 33, 3, "e7027c6260664b6bc6f2ac178a7e3ebe2556304ae8157e631b16043fd1f62b67"),
    (32, 8, 65536, 4, "df2dfcbe25262e525ca3e1065a87ba50b86d7c69579f3736bd93264e590e3fc6"),
    (1, 1, 1, 5, "6922e93e3827642ce4b883c756b31abf80036649d3614bf5fcb3adda43b8ea32"),
    (200, 56, 77, 6, "9440904fb4ddc5f5adcd6c33410124559e5cbdd7738904586e65e9359b148c5c"),
];

fn encode(rs: &ReedSolomon, s: &mut [Vec<u8>]) {
    let k = rs.data_shards();
    let (data, parity) = s.split_at_mut(k);
    let data: Vec<&[u8]> = data.iter().map(|v| v.as_slice()).collect();
    let mut parity: Vec<&mut [u8]> = parity.iter_mut().map(|v| v.as_mut_slice()).collect();
    rs.encode(&data, &mut parity).unwrap();
}

fn reconstruct(rs: &mut ReedSolomon, s: &mut [Vec<u8>], present: &[bool], data_only: bool) -> Result<(), Error> {
    let mut views: Vec<&mut [u8]> = s.iter_mut().map(|v| v.as_mut_slice()).collect();
    rs.reconstruct(&mut views, present, data_only)
}

#[test]
fn parity_matches_pinned_oracle_hashes() {
    for &(k, m, len, seed, want) in GOLDEN {
        let rs = ReedSolomon::new(k, m).unwrap();
        let mut s = shards(k, m, len, seed);
        encode(&rs, &mut s);
        assert_eq!(sha256_hex(&s[k..].concat()), want, "RS({},{}) len {}", k, m, len);
    }
}

#[test]
fn sha256_is_right() {
    assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/// Every erasure pattern of up to m shards, for every (k, m) with k + m <= 7.
#[test]
fn reconstructs_every_pattern_for_small_codes() {
    for n in 2..=7usize {
        for m in 1..n {
            let k = n - m;
            let mut rs = ReedSolomon::new(k, m).unwrap();
            let mut orig = shards(k, m, 37, (n * 31 + m) as u32);
            encode(&rs, &mut orig);
            for mask in 0u32..(1 << n) {
                let lost = mask.count_ones() as usize;
                if lost == 0 || lost > m {
                    continue;
                }
                let present: Vec<bool> = (0..n).map(|i| mask & (1 << i) == 0).collect();
                let mut s = orig.clone();
                for i in 0..n {
                    if !present[i] {
                        s[i] = vec![0xAA; 37];
                    }
                }
                reconstruct(&mut rs, &mut s, &present, false).unwrap();
                assert_eq!(s, orig, "RS({},{}) lost mask {:b}", k, m, mask);
            }
        }
    }
}

#[test]
fn data_only_leaves_missing_parity_untouched() {
    let mut rs = ReedSolomon::new(4, 2).unwrap();
    let mut orig = shards(4, 2, 64, 9);
    encode(&rs, &mut orig);
    let mut s = orig.clone();
    s[1] = vec![7; 64];
    s[5] = vec![7; 64];
    let present = [true, false, true, true, true, false];
    reconstruct(&mut rs, &mut s, &present, true).unwrap();
    assert_eq!(s[1], orig[1]);
    assert_eq!(s[5], vec![7; 64]);
}

#[test]
fn random_patterns_for_large_codes() {
    let mut rng = 0x9e3779b9u32;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        rng as usize
    };
    for &(k, m) in &[(200, 56), (128, 128), (32, 8), (250, 6)] {
        let mut rs = ReedSolomon::new(k, m).unwrap();
        let mut orig = shards(k, m, 50, (k + m) as u32);
        encode(&rs, &mut orig);
        for _ in 0..5 {
            let mut present = vec![true; k + m];
            let lost = 1 + next() % m;
            let mut dropped = 0;
            while dropped < lost {
                let i = next() % (k + m);
                if present[i] {
                    present[i] = false;
                    dropped += 1;
                }
            }
            let mut s = orig.clone();
            for i in 0..k + m {
                if !present[i] {
                    s[i].iter_mut().for_each(|b| *b = 0);
                }
            }
            reconstruct(&mut rs, &mut s, &present, false).unwrap();
            assert!(s == orig, "RS({},{}) lost {}", k, m, lost);
        }
    }
}

#[test]
fn decode_matrices_are_cached_per_pattern() {
    let mut rs = ReedSolomon::new(6, 3).unwrap();
    let mut orig = shards(6, 3, 16, 1);
    encode(&rs, &mut orig);
    let present = [false, true, true, true, true, true, true, true, true];
    for _ in 0..3 {
        let mut s = orig.clone();
        reconstruct(&mut rs, &mut s, &present, false).unwrap();
        assert_eq!(s, orig);
    }
    assert_eq!(rs.cached_patterns(), 1);
    let mut s = orig.clone();
    reconstruct(&mut rs, &mut s, &[true, false, true, true, true, true, true, true, true], false).unwrap();
    assert_eq!(rs.cached_patterns(), 2);
}

#[test]
fn verify_detects_any_single_byte_change() {
    let rs = ReedSolomon::new(5, 3).unwrap();
    let mut s = shards(5, 3, 40000, 3);
    encode(&rs, &mut s);
    let view = |s: &Vec<Vec<u8>>| rs.verify(&s.iter().map(|v| v.as_slice()).collect::<Vec<_>>()).unwrap();
    assert!(view(&s));
    for &(shard, pos) in &[(0, 0), (4, 39999), (6, 20000), (7, 16384)] {
        let mut t = s.clone();
        t[shard][pos] ^= 1;
        assert!(!view(&t), "flip in shard {} at {}", shard, pos);
    }
}

#[test]
fn bad_arguments_give_typed_errors() {
    assert_eq!(ReedSolomon::new(0, 2).err(), Some(Error::InvalidShardCounts { k: 0, m: 2 }));
    assert_eq!(ReedSolomon::new(3, 0).err(), Some(Error::InvalidShardCounts { k: 3, m: 0 }));
    assert_eq!(ReedSolomon::new(200, 57).err(), Some(Error::InvalidShardCounts { k: 200, m: 57 }));
    assert!(ReedSolomon::new(255, 1).is_ok());

    let mut rs = ReedSolomon::new(3, 2).unwrap();
    let mut s = shards(3, 2, 10, 1);
    let present = [false, false, false, true, true];
    assert_eq!(reconstruct(&mut rs, &mut s, &present, false), Err(Error::NotEnoughShards { needed: 3, present: 2 }));
    s[2] = vec![0; 9];
    assert_eq!(
        reconstruct(&mut rs, &mut s, &[true; 5], false),
        Err(Error::ShardLengthMismatch { index: 2, expected: 10, actual: 9 })
    );
    let mut empty = vec![vec![]; 5];
    assert_eq!(reconstruct(&mut rs, &mut empty, &[true; 5], false), Err(Error::EmptyShards));
    let data: Vec<&[u8]> = vec![&[1u8][..], &[2u8][..]];
    let mut p1 = [0u8];
    let mut p2 = [0u8];
    let mut parity: Vec<&mut [u8]> = vec![&mut p1[..], &mut p2[..]];
    assert_eq!(rs.encode(&data, &mut parity), Err(Error::WrongShardCount { expected: 3, actual: 2 }));
}
