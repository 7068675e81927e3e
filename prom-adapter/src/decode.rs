//! From an HTTP request to remote-write messages: content negotiation, snappy, protobuf, and the
//! 2.0 symbols table resolved into 1.0-shaped series.

use bytes::Bytes;
use http::HeaderMap;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use prost::Message;

use crate::Error;
use crate::proto::{MetricType, v1, v2};

/// The remote-write protocol version of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// Remote write 1.0 (`prometheus.WriteRequest`).
    V1,
    /// Remote write 2.0 (`io.prometheus.write.v2.Request`).
    V2,
}

impl Protocol {
    /// Fixed label value for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "1.0",
            Self::V2 => "2.0",
        }
    }
}

/// Picks the protocol from `Content-Type` and checks `Content-Encoding` (snappy only).
pub fn negotiate(headers: &HeaderMap) -> Result<Protocol, Error> {
    if let Some(encoding) = headers.get(CONTENT_ENCODING) {
        let encoding = encoding.to_str().unwrap_or("").trim();
        if !encoding.eq_ignore_ascii_case("snappy") {
            return Err(Error::UnsupportedMediaType(format!(
                "unsupported Content-Encoding `{encoding}`: remote write bodies must be snappy-compressed"
            )));
        }
    }
    let Some(content_type) = headers.get(CONTENT_TYPE) else {
        // Senders that predate content negotiation speak 1.0.
        return Ok(Protocol::V1);
    };
    let content_type = content_type.to_str().unwrap_or("");
    let mut parts = content_type.split(';').map(str::trim);
    let media = parts.next().unwrap_or("");
    if !media.eq_ignore_ascii_case("application/x-protobuf") {
        return Err(Error::UnsupportedMediaType(format!(
            "unsupported Content-Type `{content_type}`: expected application/x-protobuf"
        )));
    }
    let proto = parts
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("proto"))
        .map(|(_, v)| v.trim().trim_matches('"'));
    match proto {
        None | Some("prometheus.WriteRequest") => Ok(Protocol::V1),
        Some("io.prometheus.write.v2.Request") => Ok(Protocol::V2),
        Some(other) => Err(Error::UnsupportedMediaType(format!(
            "unsupported remote-write message `{other}`: expected prometheus.WriteRequest or io.prometheus.write.v2.Request"
        ))),
    }
}

/// Decompresses a snappy block, refusing output larger than `max_decoded` bytes before allocating.
pub fn decompress(body: &[u8], max_decoded: usize) -> Result<Bytes, Error> {
    let len = snap::raw::decompress_len(body)
        .map_err(|e| Error::Malformed(format!("body is not valid snappy (block format): {e}")))?;
    if len > max_decoded {
        return Err(Error::PayloadTooLarge(format!(
            "decoded body would be {len} bytes, over the limit of {max_decoded} bytes"
        )));
    }
    let mut out = vec![0u8; len];
    snap::raw::Decoder::new()
        .decompress(body, &mut out)
        .map_err(|e| Error::Malformed(format!("body is not valid snappy (block format): {e}")))?;
    Ok(Bytes::from(out))
}

/// Decompresses a snappy block into `buf` (grown as needed, never shrunk), refusing output larger
/// than `max_decoded` bytes before allocating; returns the decompressed bytes.
pub fn decompress_into<'a>(
    body: &[u8],
    max_decoded: usize,
    buf: &'a mut Vec<u8>,
) -> Result<&'a [u8], Error> {
    let len = snap::raw::decompress_len(body)
        .map_err(|e| Error::Malformed(format!("body is not valid snappy (block format): {e}")))?;
    if len > max_decoded {
        return Err(Error::PayloadTooLarge(format!(
            "decoded body would be {len} bytes, over the limit of {max_decoded} bytes"
        )));
    }
    if buf.len() < len {
        buf.resize(len, 0);
    }
    let out = &mut buf[..len];
    snap::raw::Decoder::new()
        .decompress(body, out)
        .map_err(|e| Error::Malformed(format!("body is not valid snappy (block format): {e}")))?;
    Ok(out)
}

/// Decodes a 1.0 request with prost's generated code (owned labels). The adapter decodes in
/// place with [`crate::view::decode_v1`]; this is the reference that one is tested against.
pub fn decode_v1(buf: Bytes) -> Result<v1::WriteRequest, Error> {
    v1::WriteRequest::decode(buf)
        .map_err(|e| Error::Malformed(format!("cannot decode prometheus.WriteRequest: {e}")))
}

/// A 2.0 series resolved against its symbols table.
#[derive(Debug)]
pub struct ResolvedSeries {
    /// The series in 1.0 shape (labels resolved; exemplar labels resolved).
    pub series: v1::TimeSeries,
    /// The type the sender declared, if any.
    pub metric_type: MetricType,
}

/// Decodes a 2.0 request with prost's generated code and resolves its symbol references (owned
/// labels). A bad reference fails the whole request: the symbols table is shared, so the request
/// itself is corrupt. The adapter decodes in place with [`crate::view_v2::decode_v2`]; this is
/// the reference that one is tested against.
pub fn decode_v2(buf: Bytes) -> Result<Vec<ResolvedSeries>, Error> {
    let request = v2::Request::decode(buf).map_err(|e| {
        Error::Malformed(format!("cannot decode io.prometheus.write.v2.Request: {e}"))
    })?;
    let symbols = request.symbols;
    if symbols.first().is_some_and(|s| !s.is_empty()) {
        return Err(Error::Malformed(
            "symbols table must start with the empty string".into(),
        ));
    }
    request
        .timeseries
        .into_iter()
        .enumerate()
        .map(|(index, ts)| {
            let labels = resolve_labels(&symbols, &ts.labels_refs)
                .map_err(|e| Error::Malformed(format!("timeseries[{index}].labels_refs: {e}")))?;
            let exemplars = ts
                .exemplars
                .into_iter()
                .map(|ex| {
                    let labels = resolve_labels(&symbols, &ex.labels_refs)
                        .map_err(|e| Error::Malformed(format!("timeseries[{index}].exemplars: {e}")))?;
                    Ok(v1::Exemplar { labels, value: ex.value, timestamp: ex.timestamp })
                })
                .collect::<Result<Vec<_>, Error>>()?;
            let metric_type = ts
                .metadata
                .and_then(|m| MetricType::try_from(m.r#type).ok())
                .unwrap_or(MetricType::Unknown);
            if let Some(m) = ts.metadata {
                for (what, r) in [("help_ref", m.help_ref), ("unit_ref", m.unit_ref)] {
                    if r as usize >= symbols.len() {
                        return Err(Error::Malformed(format!(
                            "timeseries[{index}].metadata.{what} {r} is outside the symbols table of {} entries",
                            symbols.len()
                        )));
                    }
                }
            }
            Ok(ResolvedSeries {
                series: v1::TimeSeries { labels, samples: ts.samples, exemplars, histograms: ts.histograms },
                metric_type,
            })
        })
        .collect()
}

fn resolve_labels(symbols: &[Bytes], refs: &[u32]) -> Result<Vec<v1::Label>, String> {
    if !refs.len().is_multiple_of(2) {
        return Err(format!("odd number of references ({})", refs.len()));
    }
    let symbol = |r: u32| {
        symbols.get(r as usize).cloned().ok_or_else(|| {
            format!(
                "reference {r} is outside the symbols table of {} entries",
                symbols.len()
            )
        })
    };
    refs.chunks_exact(2)
        .map(|pair| {
            Ok(v1::Label {
                name: symbol(pair[0])?,
                value: symbol(pair[1])?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(content_type: Option<&str>, encoding: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(ct) = content_type {
            h.insert(CONTENT_TYPE, HeaderValue::from_str(ct).expect("header"));
        }
        if let Some(enc) = encoding {
            h.insert(
                CONTENT_ENCODING,
                HeaderValue::from_str(enc).expect("header"),
            );
        }
        h
    }

    #[test]
    fn content_negotiation_follows_the_specs() {
        assert_eq!(negotiate(&headers(None, None)).ok(), Some(Protocol::V1));
        assert_eq!(
            negotiate(&headers(Some("application/x-protobuf"), Some("snappy"))).ok(),
            Some(Protocol::V1)
        );
        assert_eq!(
            negotiate(&headers(
                Some("application/x-protobuf;proto=prometheus.WriteRequest"),
                None
            ))
            .ok(),
            Some(Protocol::V1)
        );
        assert_eq!(
            negotiate(&headers(
                Some("application/x-protobuf; proto=io.prometheus.write.v2.Request"),
                None
            ))
            .ok(),
            Some(Protocol::V2)
        );
        for (ct, enc) in [
            (Some("application/json"), None),
            (Some("application/x-protobuf;proto=foo.Bar"), None),
            (Some("application/x-protobuf"), Some("gzip")),
            (Some("application/x-protobuf"), Some("zstd")),
        ] {
            let err = negotiate(&headers(ct, enc)).expect_err("refused");
            assert_eq!(
                err.status(),
                http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{ct:?} {enc:?}"
            );
        }
    }

    #[test]
    fn decoded_size_limit_is_checked_before_allocating() {
        let body = snap::raw::Encoder::new()
            .compress_vec(&[0u8; 10_000])
            .expect("compress");
        assert!(decompress(&body, 10_000).is_ok());
        assert_eq!(
            decompress(&body, 9_999).expect_err("too big").status(),
            http::StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            decompress(b"\xff\xff\xff\xff\xff", 1 << 20)
                .expect_err("corrupt")
                .status(),
            http::StatusCode::BAD_REQUEST
        );
        let mut buf = vec![7u8; 20_000];
        assert_eq!(
            decompress_into(&body, 10_000, &mut buf).expect("fits"),
            &[0u8; 10_000][..]
        );
        assert_eq!(buf.len(), 20_000, "a larger buffer is reused as it is");
        let small = snap::raw::Encoder::new()
            .compress_vec(b"abc")
            .expect("compress");
        assert_eq!(decompress_into(&small, 3, &mut buf).expect("fits"), b"abc");
        for (body, limit, status) in [
            (&body[..], 9_999, http::StatusCode::PAYLOAD_TOO_LARGE),
            (
                &b"\xff\xff\xff\xff\xff"[..],
                1 << 20,
                http::StatusCode::BAD_REQUEST,
            ),
            (
                &body[..body.len() - 1],
                1 << 20,
                http::StatusCode::BAD_REQUEST,
            ),
        ] {
            let mut buf = Vec::new();
            assert_eq!(
                decompress_into(body, limit, &mut buf)
                    .expect_err("refused")
                    .status(),
                status
            );
        }
    }

    #[test]
    fn v2_references_are_checked() {
        let request = v2::Request {
            symbols: vec![
                Bytes::new(),
                Bytes::from_static(b"__name__"),
                Bytes::from_static(b"up"),
            ],
            timeseries: vec![v2::TimeSeries {
                labels_refs: vec![1, 7],
                ..Default::default()
            }],
        };
        let err = decode_v2(request.encode_to_vec().into()).expect_err("bad ref");
        assert!(err.to_string().contains("reference 7 is outside"), "{err}");
        let request = v2::Request {
            symbols: vec![Bytes::from_static(b"x")],
            timeseries: vec![],
        };
        assert!(decode_v2(request.encode_to_vec().into()).is_err());
    }
}
