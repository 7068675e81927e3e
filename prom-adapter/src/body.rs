//! Downstream bodies: remote-write records compressed with snappy (block format) while they are
//! written, one 64 KiB block at a time, instead of collected whole and compressed afterwards. The
//! uncompressed records never pile up (no growing buffer to copy), the compressor reads each block
//! while it is still in cache, and bodies are joined by concatenating their compressed bytes.
//!
//! This relies on how snappy's block format works: the compressor splits its input into 64 KiB
//! blocks and compresses each on its own (copies never reach into an earlier block), so
//! compressing block-aligned pieces separately and concatenating the results gives the bytes that
//! compressing the whole would give; and a decoder accepts any concatenation of compressed pieces
//! under one length header.
//!
//! A received request body joins the same way: its original series are forwarded in the bytes
//! they arrived in, without compressing them again.

use std::cell::RefCell;

use bytes::Bytes;

use crate::Error;

/// Snappy's block size.
const BLOCK: usize = 1 << 16;
/// Room kept in front of the compressed bytes for the length header (a varint).
pub(crate) const HEADER_ROOM: usize = 10;

struct Compressor {
    encoder: snap::raw::Encoder,
    /// Output of one block: its own length header, then its compressed bytes.
    out: Vec<u8>,
}

thread_local! {
    static COMPRESSOR: RefCell<Compressor> = RefCell::new(Compressor {
        encoder: snap::raw::Encoder::new(),
        out: vec![0; snap::raw::max_compress_len(BLOCK)],
    });
}

/// Appends the compressed bytes of `input` (no length header) to `out`, block by block.
fn compress_blocks(input: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    COMPRESSOR.with_borrow_mut(|c| {
        for block in input.chunks(BLOCK) {
            let n = c
                .encoder
                .compress(block, &mut c.out)
                .map_err(|e| Error::Internal(format!("cannot compress a downstream body: {e}")))?;
            out.extend_from_slice(&c.out[varint_len(block.len() as u64)..n]);
        }
        Ok(())
    })
}

fn varint_len(value: u64) -> usize {
    prost::encoding::encoded_len_varint(value)
}

/// Writes `value` as a varint ending at `buf[end]` (exclusive); returns where it starts.
fn put_varint_before(buf: &mut [u8], end: usize, value: u64) -> usize {
    let start = end - varint_len(value);
    let mut v = value;
    for byte in &mut buf[start..end] {
        *byte = v as u8 & 0x7f;
        v >>= 7;
        if v > 0 {
            *byte |= 0x80;
        }
    }
    start
}

/// A body being written: append records to [`BodyWriter::records`], then call
/// [`BodyWriter::compress_full_blocks`] now and then (after each series, say).
#[derive(Debug)]
pub struct BodyWriter {
    /// Records not compressed yet: less than a block after each `compress_full_blocks`.
    pending: Vec<u8>,
    /// `HEADER_ROOM` bytes, then the compressed bytes so far.
    compressed: Vec<u8>,
    /// Uncompressed bytes already compressed.
    compressed_len: usize,
}

impl Default for BodyWriter {
    fn default() -> Self {
        // Room for a block and the record that crosses its end, and for a block compressed
        // (records compress several times), so neither buffer grows in steps from nothing.
        let mut compressed = Vec::with_capacity(BLOCK);
        compressed.resize(HEADER_ROOM, 0);
        Self {
            pending: Vec::with_capacity(2 * BLOCK),
            compressed,
            compressed_len: 0,
        }
    }
}

impl BodyWriter {
    /// Where records are appended.
    pub fn records(&mut self) -> &mut Vec<u8> {
        &mut self.pending
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.compressed_len == 0 && self.pending.is_empty()
    }

    /// Compresses the complete blocks written so far.
    pub fn compress_full_blocks(&mut self) -> Result<(), Error> {
        let full = self.pending.len() / BLOCK * BLOCK;
        if full == 0 {
            return Ok(());
        }
        compress_blocks(&self.pending[..full], &mut self.compressed)?;
        self.compressed_len += full;
        self.pending.drain(..full);
        Ok(())
    }

    /// Compresses the rest and returns the body.
    pub fn finish(mut self) -> Result<CompressedBody, Error> {
        compress_blocks(&self.pending, &mut self.compressed)?;
        Ok(CompressedBody {
            bytes: Stored::Written(self.compressed),
            raw_len: self.compressed_len + self.pending.len(),
        })
    }
}

/// A compressed body, or part of one: joined with others, it becomes one downstream request.
#[derive(Debug)]
pub struct CompressedBody {
    bytes: Stored,
    /// Length of the uncompressed records.
    raw_len: usize,
}

/// Where a body's compressed bytes are.
#[derive(Debug)]
enum Stored {
    /// Written here: `HEADER_ROOM` bytes, then the compressed bytes.
    Written(Vec<u8>),
    /// A request body as received: its length header, then its compressed bytes from `ops`.
    Received { body: Bytes, ops: usize },
}

impl Default for CompressedBody {
    fn default() -> Self {
        Self {
            bytes: Stored::Written(vec![0; HEADER_ROOM]),
            raw_len: 0,
        }
    }
}

impl CompressedBody {
    /// Compresses `records` whole.
    pub fn compress(records: &[u8]) -> Result<Self, Error> {
        let mut writer = BodyWriter::default();
        writer.records().extend_from_slice(records);
        writer.finish()
    }

    /// A received snappy block-format body, kept as it is. The caller has decompressed it
    /// successfully, so its copies stay within its own bytes and it joins with others as is;
    /// `None` when its length header cannot be read.
    pub fn received(body: Bytes) -> Option<Self> {
        let mut rest = &body[..];
        let raw_len = crate::view::varint(&mut rest)?;
        let ops = body.len() - rest.len();
        Some(Self {
            bytes: Stored::Received { body, ops },
            raw_len: usize::try_from(raw_len).ok()?,
        })
    }

    /// A body of snappy elements written elsewhere that decompress to `raw_len` bytes: `data`
    /// holds `HEADER_ROOM` bytes (for the length header), then the elements.
    pub(crate) fn from_elements(data: Vec<u8>, raw_len: usize) -> Self {
        debug_assert!(data.len() >= HEADER_ROOM);
        Self {
            bytes: Stored::Written(data),
            raw_len,
        }
    }

    /// Length of the uncompressed records.
    pub fn raw_len(&self) -> usize {
        self.raw_len
    }

    /// The compressed bytes, without the length header.
    fn ops(&self) -> &[u8] {
        match &self.bytes {
            Stored::Written(data) => &data[HEADER_ROOM..],
            Stored::Received { body, ops } => &body[*ops..],
        }
    }

    /// Length of the compressed bytes (without the length header).
    pub fn compressed_len(&self) -> usize {
        self.ops().len()
    }

    /// The snappy block-format body, without copying.
    pub fn into_bytes(self) -> Bytes {
        match self.bytes {
            Stored::Written(mut data) => {
                let start = put_varint_before(&mut data, HEADER_ROOM, self.raw_len as u64);
                Bytes::from(data).slice(start..)
            }
            Stored::Received { body, .. } => body,
        }
    }

    /// One snappy block-format body holding the records of all `bodies`, in order.
    pub fn join<'a>(bodies: impl IntoIterator<Item = &'a CompressedBody> + Clone) -> Bytes {
        Self::joined(bodies).into_bytes()
    }

    /// One body holding the records of all `bodies`, in order.
    pub fn joined<'a>(bodies: impl IntoIterator<Item = &'a CompressedBody> + Clone) -> Self {
        let (raw_len, compressed) = bodies
            .clone()
            .into_iter()
            .fold((0, 0), |(r, c), b| (r + b.raw_len, c + b.compressed_len()));
        let mut data = Vec::with_capacity(HEADER_ROOM + compressed);
        data.resize(HEADER_ROOM, 0);
        for body in bodies {
            data.extend_from_slice(body.ops());
        }
        Self {
            bytes: Stored::Written(data),
            raw_len,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(seed: u64, len: usize) -> Vec<u8> {
        // Compressible but not trivial: repeated label-like text with varying numbers.
        let mut out = Vec::with_capacity(len);
        let mut i = seed;
        while out.len() < len {
            out.extend_from_slice(
                format!("label_key_{}=series-{}\u{ff};", i % 11, i * 7919).as_bytes(),
            );
            i += 1;
        }
        out.truncate(len);
        out
    }

    fn decompress(body: &[u8]) -> Vec<u8> {
        snap::raw::Decoder::new()
            .decompress_vec(body)
            .expect("valid snappy")
    }

    #[test]
    fn bodies_written_in_pieces_are_the_bytes_snap_gives_for_the_whole() {
        for len in [0, 1, 17, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 12_345] {
            let input = records(len as u64, len);
            let mut writer = BodyWriter::default();
            // Uneven pieces, as records come.
            for piece in input.chunks(977) {
                writer.records().extend_from_slice(piece);
                writer.compress_full_blocks().expect("compresses");
            }
            let body = writer.finish().expect("compresses");
            assert_eq!(body.raw_len(), len);
            let whole = snap::raw::Encoder::new()
                .compress_vec(&input)
                .expect("compresses");
            assert_eq!(body.into_bytes(), whole, "{len} bytes");
        }
    }

    #[test]
    fn joined_bodies_decompress_to_the_concatenated_records() {
        let inputs: Vec<Vec<u8>> = [5, 0, BLOCK + 3, 200, 2 * BLOCK]
            .iter()
            .enumerate()
            .map(|(i, &len)| records(i as u64 * 1000, len))
            .collect();
        let bodies: Vec<CompressedBody> = inputs
            .iter()
            .map(|input| CompressedBody::compress(input).expect("compresses"))
            .collect();
        let joined = CompressedBody::join(&bodies);
        assert_eq!(decompress(&joined), inputs.concat());
        assert_eq!(
            snap::raw::decompress_len(&joined).expect("header"),
            inputs.iter().map(Vec::len).sum::<usize>()
        );
        let empty = CompressedBody::join(&[]);
        assert_eq!(decompress(&empty), Vec::<u8>::new());
        assert_eq!(
            decompress(&CompressedBody::default().into_bytes()),
            Vec::<u8>::new()
        );
    }

    #[test]
    fn received_bodies_are_kept_as_they_are_and_join_with_written_ones() {
        let first = records(1, 5_000);
        let second = records(2, BLOCK + 300);
        let sent = Bytes::from(
            snap::raw::Encoder::new()
                .compress_vec(&first)
                .expect("compresses"),
        );
        let received = CompressedBody::received(sent.clone()).expect("a length header");
        assert_eq!(received.raw_len(), first.len());
        let written = CompressedBody::compress(&second).expect("compresses");
        assert_eq!(
            decompress(&CompressedBody::join([&written, &received, &written])),
            [&second[..], &first, &second].concat()
        );
        assert_eq!(
            received.into_bytes(),
            sent,
            "a lone received body is sent as it came"
        );
        assert!(CompressedBody::received(Bytes::from_static(&[0x80, 0x80])).is_none());
        assert!(CompressedBody::received(Bytes::new()).is_none());
    }
}
