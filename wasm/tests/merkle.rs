//! The multi-buffer SHA-256 against FIPS 180-4 vectors and the scalar path, and the Merkle root
//! against a plain rebuild of `src/core/merkle.ts`'s definition. Native builds run the lanes in
//! plain Rust (`Portable`); the SIMD128 lanes are checked from TypeScript against `merkleRoot`.

#[allow(dead_code)]
mod common;
use common::{seeded_bytes, sha256_hex};
use shardfarm_codec::lanes::{Lanes, Pair, Portable};
use shardfarm_codec::merkle::{leaf_count, leaf_hashes, root, LEAF_BYTES};
use shardfarm_codec::sha256::{digest, digest_many};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{:02x}", x)).collect()
}

/// FIPS 180-4 examples (and the empty message), with their digests.
fn fips() -> Vec<(Vec<u8>, &'static str)> {
    vec![
        (b"".to_vec(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        (b"abc".to_vec(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".to_vec(),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        ),
        (
            b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu".to_vec(),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
        ),
        (vec![b'a'; 1_000_000], "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
    ]
}

#[test]
fn scalar_and_every_lane_width_give_the_fips_digests() {
    for (msg, want) in fips() {
        let mut out = [0u8; 32];
        digest(&[], &msg, &mut out);
        assert_eq!(hex(&out), want, "scalar, {} bytes", msg.len());
        if let Some((&first, rest)) = msg.split_first() {
            digest(&[first], rest, &mut out);
            assert_eq!(hex(&out), want, "scalar with a prefix, {} bytes", msg.len());
        }
        for lanes in [1usize, 4, 8] {
            let bodies: Vec<&[u8]> = (0..lanes + 3).map(|_| msg.as_slice()).collect();
            let mut many = vec![0u8; 32 * bodies.len()];
            match lanes {
                1 => digest_many::<u32>(&[], &bodies, &mut many),
                4 => digest_many::<Portable>(&[], &bodies, &mut many),
                _ => digest_many::<Pair<Portable>>(&[], &bodies, &mut many),
            }
            for d in many.chunks(32) {
                assert_eq!(hex(d), want, "{} lanes, {} bytes", lanes, msg.len());
            }
        }
    }
}

fn check_many<L: Lanes>(prefix: &[u8], bodies: &[&[u8]]) {
    let mut many = vec![0u8; 32 * bodies.len()];
    digest_many::<L>(prefix, bodies, &mut many);
    for (i, body) in bodies.iter().enumerate() {
        let mut one = [0u8; 32];
        digest(prefix, body, &mut one);
        let joined = [prefix, body].concat();
        assert_eq!(hex(&one), sha256_hex(&joined), "scalar, {} + {} bytes", prefix.len(), body.len());
        assert_eq!(hex(&many[32 * i..32 * i + 32]), hex(&one), "{} lanes, message {} of {}, {} + {} bytes", L::N, i, bodies.len(), prefix.len(), body.len());
    }
}

#[test]
fn batches_equal_the_scalar_path_over_random_lengths_and_counts() {
    let mut x = 7u32;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    // Every length around the block edges (55, 56, 63, 64 with and without a prefix), then random.
    let mut lengths: Vec<usize> = (0..140).collect();
    lengths.extend((0..40).map(|_| (next() % 3000) as usize));
    for len in lengths {
        let count = 1 + (next() % 19) as usize;
        let data: Vec<Vec<u8>> = (0..count).map(|i| seeded_bytes(next() ^ i as u32, len)).collect();
        let bodies: Vec<&[u8]> = data.iter().map(|d| d.as_slice()).collect();
        for prefix in [&[][..], &[0x00][..], &[0x01, 0x02, 0x03][..]] {
            check_many::<Portable>(prefix, &bodies);
            check_many::<Pair<Portable>>(prefix, &bodies);
        }
    }
}

/// `src/core/merkle.ts`'s tree, written out plainly with the test helper's SHA-256.
fn reference_root(bytes: &[u8]) -> String {
    let unhex = |s: String| -> Vec<u8> { (0..32).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap()).collect() };
    let mut level: Vec<Vec<u8>> = bytes.chunks(LEAF_BYTES).map(|l| unhex(sha256_hex(&[&[0u8][..], l].concat()))).collect();
    while level.len() > 1 {
        level = level
            .chunks(16)
            .map(|g| if g.len() == 1 { g[0].clone() } else { unhex(sha256_hex(&[vec![1u8], g.concat()].concat())) })
            .collect();
    }
    hex(&level[0])
}

#[test]
fn roots_equal_the_plain_tree_at_every_shape_edge() {
    let k = LEAF_BYTES;
    let sizes = [1, 2, k - 1, k, k + 1, 2 * k, 2 * k + 1, 3 * k, 16 * k, 16 * k + 1, 17 * k, 17 * k - 5, 256 * k, 256 * k + 1, 257 * k, 272 * k + 3, 4097 * k];
    for (i, &size) in sizes.iter().enumerate() {
        let bytes = seeded_bytes(100 + i as u32, size);
        assert_eq!(hex(&root(&bytes)), reference_root(&bytes), "{} bytes", size);
        let mut leaves = vec![0u8; 32 * leaf_count(size)];
        leaf_hashes(&bytes, &mut leaves);
        let last = bytes.chunks(k).last().unwrap();
        assert_eq!(hex(&leaves[leaves.len() - 32..]), sha256_hex(&[&[0u8][..], last].concat()), "last leaf of {} bytes", size);
    }
}

#[test]
fn a_pinned_root_stays_the_same() {
    // Seeded bytes as in `src/codec/testing/vectors.ts`; pinned from `merkleRoot` in
    // `src/core/merkle.ts` (`merkleRoot(seededBytes(19, 17 * 1024 + 100))`).
    let bytes = seeded_bytes(19, 17 * LEAF_BYTES + 100);
    assert_eq!(hex(&root(&bytes)), "658bc6d2ec4f4ae2e02071bd1d143f2a3ed5c2d2c919511551b1169519f4af35");
}
