//! Test helpers shared by the differential tests of the in-place decoders: a deterministic
//! generator and a loop over random requests and their corruptions.

/// A small deterministic generator for random requests and corruptions.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    /// The next pseudo-random value (31 bits).
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        self.0 >> 33
    }
}

/// Encodes `rounds` requests made by `request`, leaves a third as they are, truncates a third and
/// flips one bit in the rest, and hands each to `agree` (which panics when the decoders disagree
/// and says whether they accepted it); returns how many were accepted and how many refused.
pub(crate) fn accepted_and_refused(
    rng: &mut Rng,
    rounds: usize,
    mut request: impl FnMut(&mut Rng) -> Vec<u8>,
    agree: impl Fn(&[u8]) -> bool,
) -> (usize, usize) {
    let (mut accepted, mut refused) = (0, 0);
    for _ in 0..rounds {
        let mut bytes = request(rng);
        match rng.next() % 3 {
            0 if !bytes.is_empty() => {
                let cut = rng.next() as usize % bytes.len();
                bytes.truncate(cut);
            }
            1 if !bytes.is_empty() => {
                let at = rng.next() as usize % bytes.len();
                bytes[at] ^= 1 << (rng.next() % 8);
            }
            _ => {}
        }
        if agree(&bytes) {
            accepted += 1;
        } else {
            refused += 1;
        }
    }
    (accepted, refused)
}
